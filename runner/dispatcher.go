package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/cv"
	"github.com/nanoact/nanoact/internal/recvloop"
	"github.com/nanoact/nanoact/internal/watch"
	"github.com/nanoact/nanoact/sockets"
)

// Dispatcher is mirai's dispatcher: it listens for daemons, keeps a FIFO
// queue of submitted tasks and hands each to an idle daemon, as many at
// once per daemon as that daemon accepts (one by default). Daemons run in
// the same process (StartDaemons), as local child processes (LaunchLocal)
// or on other machines (Launch gives the command they run), and join over
// one poly (pair v1 polyamorous) socket; see the wire protocol in the
// package doc.
//
// Its state machine is an actor: submissions, daemons joining and leaving
// (from the socket's pipe events, in order), results, cancellations and
// status requests are messages to it, handled one at a time. The reader
// takes the socket's messages one at a time, on the goroutine of the
// connection each comes from (an asynchronous receive, so no goroutine
// switch on the way): it decodes results, frees their daemons' slots and
// sends the next tasks, and hands their aios to the resolver, a goroutine
// of their own (parked between bursts), so that a slow callback never
// stops a connection's reading; OnJoin reports go to a second such queue
// of their own. So a Dispatcher costs one actor, two mostly parked
// goroutines (the reader's and the resolver's; a third, the reports',
// once an OnJoin report has run), and two goroutines per connection (the
// socket's).
//
// A daemon proves it was launched by this dispatcher by answering a
// challenge with an HMAC keyed by the session's random token, which never
// crosses the wire; over tls+tcp:// and wss:// the connection also uses a
// certificate the dispatcher generates on the fly, which remote daemons
// are given to trust. A connection without the token is refused and
// logged at Warn. Until then it may send one small message (4 KiB); what
// a daemon claims is capped (WithPerDaemon) and nothing is sized from it.
//
// A Dispatcher is made by NewDispatcher, is safe for concurrent use, and
// must be Closed.
type Dispatcher struct {
	cfg     dispatcherConfig
	log     *zap.Logger
	sock    *sockets.Socket
	ref     *actor.Ref
	codec   sockets.Codec
	token   string
	inproc  string
	certPEM []byte // the CA remote daemons trust; nil without a TLS listener
	tlsSrv  *sockets.TLSConfig
	nb      context.Context
	life    context.Context
	stop    context.CancelFunc
	reader  sync.WaitGroup
	unwatch func()
	seq     atomic.Uint64 // submissions
	adm     admission     // the queue's bounds (WithMaxQueued, WithMaxQueuedBytes)

	outlets sync.Map        // a task outlet per result type (outletFor)
	streams atomic.Uint64   // seed streams taken (see seed.go)
	every   everywhereState // OnJoin's tasks, owned by the actor

	closeMu sync.RWMutex // held shared while a submission is handed to the actor
	closed  bool

	mu       sync.Mutex       // the attempt table and daemon ids
	attempts map[uint64]*task // by wire id
	ids      map[uint32]string

	swMu    sync.Mutex
	sweeps  []*sweep       // posted by the actor, taken by the reader
	nsweeps atomic.Int32   // len(sweeps), read by the reader without swMu
	rx      *recvloop.Loop // the reader (read)
	res     workQueue      // the resolver: resolves the aios of the tasks the reader ends

	chMu      sync.Mutex
	changed   chan struct{} // closed and replaced when daemons join or leave
	connected atomic.Int64

	bc cv.Broadcaster // daemon events, to the CVs of Register

	tasksDone watch.List[TaskDone] // WatchTasks
	bornMu    sync.Mutex
	born      map[*task]int64 // submission times of the tasks submitted while watched
	bornN     atomic.Int64    // len(born), read without bornMu

	lmu       sync.Mutex
	awaiting  map[string]chan struct{} // StartDaemons' daemons, until they join
	locals    []*Daemon
	localWG   sync.WaitGroup
	launchers []*Launcher
	left      []LeftTask // left running by in-process daemons (interrupt.go)
	ipcAddr   string
	lseq      map[string]int // the last number of each id prefix (nextID)

	smu      sync.Mutex    // the state lock: held by the actor (dispatchActor), and by the hot path
	st       dispatchState // guarded by smu
	final    Status        // the status at Close, once finalSet is closed
	finalSet chan struct{}
}

// dispatchState is the dispatcher's state, guarded by its state lock
// (smu). The actor holds it for every message; the hot path (Submit, and
// the reader on a result) takes it directly.
type dispatchState struct {
	queue    deque[*task]
	queued   int
	ready    deque[*daemonConn]
	daemons  map[uint32]*daemonConn
	waiting  map[uint32]*pending    // connected, no hello yet
	helloDue map[uint32]*time.Timer // the hello time-outs of waiting
	refused  map[uint32]bool        // refused, until their removal
	gone     map[uint32]bool        // recently removed pipes
	goneRing []uint32
	departed []DaemonStatus
	sweeping map[uint32]*sweep // departed daemons whose tasks the reader sweeps
	joins    int
	nextWid  uint64
	shut     bool
	later    []job                  // resolutions for unlockState
	overdue  map[uint64]*time.Timer // cancelled attempts' interrupt grace, by wid (interrupt.go)
	replaced int64                  // connections closed for a newer one under their id (takeOver)

	completed, failed, canceled, requeued, refusedN, lost, helloLate int64
}

// pending is a connection that has been challenged and has not said
// hello yet.
type pending struct {
	since time.Time
	nonce []byte
}

// daemonConn is one joined daemon, owned by the actor.
type daemonConn struct {
	pipe      uint32
	to        sockets.SendOption // ToPipe(pipe), boxed once
	remote    zap.Field          // its peer's address, for the log lines about it
	id        string
	max       int
	remaining int // tasks it will still take; negative: no limit
	busy      int
	running   map[uint64]*task // by wire id, cancelled ones included
	inReady   bool
	full      bool // its pipe queue was full: wait for a result
	leaving   bool
	byeSent   bool
	completed int64
	failed    int64
	joined    time.Time
	order     int
	pinned    deque[*task] // its own tasks (OnDaemon, Everywhere), first served
	setups    int          // Everywhere tasks queued or running on it
}

var dispatcherSeq atomic.Uint64

// NewDispatcher opens a poly socket listening on url and starts the
// dispatcher's actor and reader. An empty url listens on a fresh inproc://
// address. Whatever url is, the dispatcher also listens on an inproc://
// address of its own for in-process daemons. For tls+tcp:// and wss://
// URLs it generates a self-signed certificate for the advertised host
// (about 0.3 ms; see WithCert).
//
// It does not block beyond binding its listeners. It costs an actor, a
// goroutine, and a socket.
//
// Errors: those of sockets.New and Listen (ErrAddrInUse, ErrAddrInvalid,
// ErrNotSupported, ...), ErrCrypto if the certificate cannot be made.
func NewDispatcher(url string, opts ...DispatcherOption) (*Dispatcher, error) {
	cfg := dispatcherConfig{log: zap.NewNop(), certValidity: 7 * 24 * time.Hour, helloTimeout: DefaultHelloTimeout}
	for _, o := range opts {
		if o != nil {
			o.applyDispatcher(&cfg)
		}
	}
	if cfg.maxFrame <= 0 {
		cfg.maxFrame = DefaultMaxFrame
	}
	if cfg.perDaemon <= 0 {
		cfg.perDaemon = DefaultPerDaemon
	}
	if cfg.maxQueued == 0 {
		cfg.maxQueued = DefaultMaxQueued
	}
	if cfg.maxQueuedBytes == 0 {
		cfg.maxQueuedBytes = DefaultMaxQueuedBytes
	}
	if cfg.log == nil {
		cfg.log = zap.NewNop()
	}
	sys := cfg.sys
	if sys == nil {
		sys = actor.Default()
	}
	if cfg.token == "" {
		cfg.token = randomHex(32)
	}
	if !cfg.seedSet {
		cfg.seed = randomSeed()
	}
	n := dispatcherSeq.Add(1)
	d := &Dispatcher{
		cfg:      cfg,
		token:    cfg.token,
		inproc:   fmt.Sprintf("inproc://nanoact-dispatcher-%d-%s", n, randomHex(4)),
		nb:       sockets.NonBlock(context.Background()),
		attempts: make(map[uint64]*task),
		ids:      make(map[uint32]string),
		changed:  make(chan struct{}),
		finalSet: make(chan struct{}),
	}
	d.adm.maxN, d.adm.maxB = int64(cfg.maxQueued), cfg.maxQueuedBytes
	d.st.daemons = make(map[uint32]*daemonConn)
	d.st.sweeping = make(map[uint32]*sweep)
	d.st.waiting = make(map[uint32]*pending)
	d.st.helloDue = make(map[uint32]*time.Timer)
	d.st.refused = make(map[uint32]bool)
	d.st.gone = make(map[uint32]bool)
	sopts := append([]sockets.Option{sockets.WithLogger(cfg.log), sockets.WithSystem(sys)}, cfg.sockOpts...)
	// A connection may send one small message, its hello, until the
	// hello is accepted (onHello opens the gate); then task-sized ones.
	sopts = append(sopts, sockets.WithRecvSizeMax(cfg.maxFrame+frameSlack), sockets.WithRecvGate(helloFrameMax))
	if cfg.codec != nil {
		sopts = append(sopts, sockets.WithCodec(cfg.codec))
	}
	sock, err := sockets.New(sockets.Poly, sopts...)
	if err != nil {
		return nil, err
	}
	d.sock = sock
	d.codec = sock.Codec()
	d.log = cfg.log.Named("runner").With(zap.String("dispatcher", fmt.Sprint(n)), zap.Uint32("socket", sock.ID()))
	d.every.reports.log = d.log // a report's panic
	d.life, d.stop = context.WithCancel(context.Background())
	d.rx = newRxLoop(sock, d.life, d.handle, recvloop.Between(d.sweep))
	fail := func(err error) (*Dispatcher, error) {
		d.stop()
		if d.unwatch != nil {
			d.unwatch()
		}
		_ = sock.Close()
		d.reader.Wait()
		d.res.close()
		if d.ref != nil {
			_ = d.ref.Stop(context.Background())
		}
		return nil, err
	}
	if d.ref, err = sys.Spawn("", (*dispatchActor)(d)); err != nil {
		return fail(err)
	}
	if d.unwatch, err = sock.WatchPipes(func(ev sockets.PipeEvent) { d.ref.Send(ev) }); err != nil {
		return fail(err)
	}
	if url == "" {
		url = d.inproc
	}
	for _, u := range append([]string{url}, cfg.also...) {
		if _, err := d.listen(u); err != nil {
			return fail(err)
		}
	}
	if url != d.inproc {
		if _, err := d.listen(d.inproc); err != nil {
			return fail(err)
		}
	}
	d.reader.Go(d.read)
	d.log.Info("dispatcher listening", zap.String("url", d.URL()))
	return d, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

func isTLSURL(u string) bool {
	return strings.HasPrefix(u, "tls+tcp") || strings.HasPrefix(u, "wss://")
}

// listen adds a listener, with the session's certificate for TLS URLs, and
// returns its URL with the bound port.
func (d *Dispatcher) listen(u string) (string, error) {
	var eopts []sockets.EndpointOption
	if isTLSURL(u) {
		cfg, err := d.tlsServer(u)
		if err != nil {
			return "", err
		}
		eopts = append(eopts, sockets.TLS(cfg))
	}
	l, err := d.sock.Listen(u, eopts...)
	if err != nil {
		return "", err
	}
	return l.URL(), nil
}

// tlsServer makes (once) the server TLS config of TLS listeners.
func (d *Dispatcher) tlsServer(u string) (*sockets.TLSConfig, error) {
	d.lmu.Lock()
	defer d.lmu.Unlock()
	if d.tlsSrv != nil {
		return d.tlsSrv, nil
	}
	certPEM, keyPEM := d.cfg.certPEM, d.cfg.keyPEM
	if certPEM == nil {
		var err error
		certPEM, keyPEM, err = sockets.WriteCert(d.advertiseHost(u), d.cfg.certValidity)
		if err != nil {
			return nil, err
		}
	}
	cfg, err := sockets.NewTLSServer(sockets.TLSCert(certPEM, keyPEM))
	if err != nil {
		return nil, err
	}
	d.certPEM, d.tlsSrv = certPEM, cfg
	return cfg, nil
}

// advertiseHost is the host remote daemons dial for listener URL u.
func (d *Dispatcher) advertiseHost(u string) string {
	if d.cfg.advertise != "" {
		return d.cfg.advertise
	}
	if pu, err := url.Parse(u); err == nil {
		h := pu.Hostname()
		if ip := net.ParseIP(h); h != "" && (ip == nil || !ip.IsUnspecified()) {
			return h
		}
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "localhost"
}

// Listen adds a listener on url (TLS URLs use the session's certificate)
// and returns its URL, with the port bound for port 0. It blocks while the
// listener binds. Errors are those of sockets' Listen.
func (d *Dispatcher) Listen(url string) (string, error) { return d.listen(url) }

// URL returns the URL of the dispatcher's first listener, with the port
// bound for port 0.
func (d *Dispatcher) URL() string {
	if ls := d.sock.Listeners(); len(ls) > 0 {
		return ls[0].URL()
	}
	return ""
}

// URLs returns the URLs of all the dispatcher's listeners.
func (d *Dispatcher) URLs() []string {
	var out []string
	for _, l := range d.sock.Listeners() {
		out = append(out, l.URL())
	}
	return out
}

// Token returns the session token, with which daemons answer the
// dispatcher's challenge. Treat it as a secret: with it (and, over TLS,
// the certificate) anyone can join.
func (d *Dispatcher) Token() string { return d.token }

// CertPEM returns the certificate (PEM) remote daemons must trust to dial
// the dispatcher's TLS listeners, or nil if it has none.
func (d *Dispatcher) CertPEM() []byte {
	d.lmu.Lock()
	defer d.lmu.Unlock()
	return d.certPEM
}

// Socket returns the dispatcher's poly socket, for statistics and options.
func (d *Dispatcher) Socket() *sockets.Socket { return d.sock }

// enqueue queues t, and sends it at once if a daemon is free; false once
// the dispatcher is closed. It takes the state lock on the caller's
// goroutine rather than a message to the actor.
func (d *Dispatcher) enqueue(t *task) bool {
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return false
	}
	d.smu.Lock()
	defer d.unlockState()
	t.id = d.seq.Add(1)
	d.markBorn(t)
	d.onSubmit(t)
	return true
}

// notify records the number of daemons, wakes WaitDaemons and tells the
// registered CVs of ev.
func (d *Dispatcher) notify(n int, ev cv.Event) {
	d.connected.Store(int64(n))
	d.chMu.Lock()
	close(d.changed)
	d.changed = make(chan struct{})
	d.chMu.Unlock()
	d.bc.Broadcast(ev)
}

// Register adds c to the dispatcher's supervisor broadcast: c is told of
// every daemon event as a cv.Event, Child the daemon's id. A daemon that
// joins is Up; one that leaves normally (it said leave, or was told bye
// after its quota or at Close) is Stopped, a plain signal. A daemon lost
// (its connection gone without a bye, or with tasks running) is Failed:
// c's flag is raised, so Wait returns false, and c.Err gives the cause
// (ErrConnReset). Once the dispatcher has closed, c gets Closed, at once
// if it registers later. unregister removes c (idempotent). Events are
// broadcast from the dispatcher's actor; c never blocks it.
func (d *Dispatcher) Register(c *cv.CV) (unregister func()) { return d.bc.Register(c) }

// WaitDaemons blocks until at least n daemons have joined (said a valid
// hello) or ctx ends, then returns nil, or an error matching ErrTimedOut
// or ErrCanceled, or ErrClosed once the dispatcher is closed. It costs a
// channel wait per join or departure.
func (d *Dispatcher) WaitDaemons(ctx context.Context, n int) error {
	for {
		d.chMu.Lock()
		ch := d.changed
		d.chMu.Unlock()
		if int(d.connected.Load()) >= n {
			return nil
		}
		select {
		case <-ch:
		case <-d.life.Done():
			return &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: wait daemons"}
		case <-ctx.Done():
			return nanoact.FromContext(ctx, "runner: wait daemons")
		}
	}
}

// Daemons returns the number of daemons that have joined and are
// connected now. It never blocks.
func (d *Dispatcher) Daemons() int { return int(d.connected.Load()) }

// StartDaemons starts n daemons in this process, each a goroutine with its
// own poly socket dialing the dispatcher's inproc address, running the
// tasks of WithRegistry's registry. They answer the dispatcher's
// challenge with the session token; opts may set WithConcurrency, WithMaxTasks,
// WithIdleExit and so on. The dispatcher owns them: Close stops them. It
// blocks until all have connected and their hello has been accepted (a
// few tens of µs each), so tasks submitted next find them; Close on a
// returned Daemon kills it abruptly (its connection drops, as when a
// process dies).
//
// ctx bounds the whole call: each daemon's dial (NewDaemon's one
// synchronous attempt, which waits for the dispatcher's listener to
// accept) and the wait for the hellos; an already-ended ctx starts none.
// When it ends first, StartDaemons returns an error matching ErrTimedOut
// or ErrCanceled (wrapping ctx.Err()) with the daemons already started;
// they stay the dispatcher's, joining when they can (its Close stops
// them). A daemon whose dial ctx cut short is not made (its socket is
// closed).
//
// Errors: ErrInvalid without a registry, ErrClosed after Close (also if
// the dispatcher closes while it waits), those of NewDaemon, and Run's
// error of a daemon that exits before joining (an error matching
// ErrPeerAuth if it was refused). The daemons started before the error
// are returned with it.
func (d *Dispatcher) StartDaemons(ctx context.Context, n int, opts ...DaemonOption) ([]*Daemon, error) {
	if d.cfg.reg == nil {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, "runner: start daemons", "no registry (WithRegistry)")
	}
	base := []DaemonOption{WithToken(d.token), WithLogger(d.cfg.log), WithSystem(d.cfg.sys), WithInterruptGrace(d.cfg.interruptGrace)}
	if d.cfg.codec != nil {
		base = append(base, WithCodec(d.cfg.codec))
	}
	if d.cfg.tp != nil {
		base = append(base, WithTracerProvider(d.cfg.tp))
	}
	type start struct {
		id             string
		joined, exited chan struct{}
		err            error // Run's, once exited is closed
	}
	var out []*Daemon
	var starts []*start
	defer func() {
		d.lmu.Lock()
		for _, s := range starts {
			delete(d.awaiting, s.id)
		}
		d.lmu.Unlock()
	}()
	for range n {
		if ctx.Err() != nil {
			return out, nanoact.FromContext(ctx, "runner: start daemons")
		}
		s := &start{joined: make(chan struct{}), exited: make(chan struct{})}
		s.id = d.nextID("local")
		d.lmu.Lock()
		if d.awaiting == nil {
			d.awaiting = make(map[string]chan struct{})
		}
		d.awaiting[s.id] = s.joined
		d.lmu.Unlock()
		starts = append(starts, s)
		dm, err := newDaemon(ctx, d.cfg.reg, d.inproc, append(append(base, WithDaemonID(s.id)), opts...)...)
		if err != nil {
			if ctx.Err() != nil {
				err = nanoact.FromContext(ctx, "runner: start daemons")
			}
			return out, err
		}
		d.closeMu.RLock()
		if d.closed {
			d.closeMu.RUnlock()
			_ = dm.Close()
			return out, &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: start daemons"}
		}
		d.lmu.Lock()
		d.locals = append(d.locals, dm)
		d.lmu.Unlock()
		d.localWG.Go(func() {
			s.err = dm.Run(d.life)
			d.noteLeft(s.err)
			_ = dm.Close()
			close(s.exited)
		})
		d.closeMu.RUnlock()
		out = append(out, dm)
	}
	for _, s := range starts {
		select {
		case <-s.joined:
		case <-s.exited:
			select {
			case <-s.joined: // joined, then left at once
			default:
				return out, fmt.Errorf("runner: start daemons: %s exited before joining: %w", s.id, s.err)
			}
		case <-d.life.Done():
			return out, &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: start daemons"}
		case <-ctx.Done():
			return out, nanoact.FromContext(ctx, "runner: start daemons")
		}
	}
	return out, nil
}

// joined closes the channel StartDaemons waits on for daemon id, if any.
// It runs on the actor when a hello is accepted.
func (d *Dispatcher) joined(id string) {
	d.lmu.Lock()
	defer d.lmu.Unlock()
	if ch := d.awaiting[id]; ch != nil {
		close(ch)
		delete(d.awaiting, id)
	}
}

// Close stops the dispatcher: queued and running tasks resolve with
// ErrClosed, every daemon is told to exit (bye), local processes it
// launched are waited for (and killed if they do not exit within their
// grace time), in-process daemons are stopped, and the socket is closed.
// It returns once every goroutine it owns has exited, except the tasks of
// in-process daemons that ignore their cancel: it waits for those at most
// WithInterruptGrace, then returns an error matching ErrTimedOut whose
// *LeftRunningError lists them, their goroutines still running. A second
// Close returns ErrClosed.
func (d *Dispatcher) Close() error {
	d.closeMu.Lock()
	if d.closed {
		d.closeMu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: close dispatcher"}
	}
	d.closed = true
	d.closeMu.Unlock()
	var final Status
	_ = d.ref.Call(context.Background(), func() {
		d.shutdown()
		final = d.snapshot()
	})
	d.final = final
	close(d.finalSet)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = d.sock.Flush(ctx) // the byes reach their daemons
	cancel()
	d.lmu.Lock()
	ls := d.launchers
	d.lmu.Unlock()
	for _, l := range ls {
		_ = l.close(true)
	}
	d.stop() // in-process daemons and the reader
	d.localWG.Wait()
	d.unwatch()
	err := d.sock.Close()
	d.reader.Wait()
	d.res.close()
	_ = d.ref.Stop(context.Background())
	// OnJoin's reports, queued by the reader and the actor.
	d.every.reports.close()
	_ = d.bc.Close() // after the daemons' departures
	d.log.Info("dispatcher closed", zap.Int64("completed", final.Completed), zap.Int64("failed", final.Failed))
	if err == nil {
		err = d.leftRunning()
	}
	return err
}

// shutdown runs on the actor: every task resolves with ErrClosed and
// every daemon gets bye.
func (d *Dispatcher) shutdown() {
	st := &d.st
	st.shut = true
	d.disarmAllOverdue()
	for pipe := range st.helloDue {
		d.stopHelloTimer(pipe)
	}
	closed := func(t *task) {
		t.state = stateGone
		d.unhold(t)
		if t.take() {
			st.canceled++
			d.resolveLater(t, t.staged(&nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: task " + t.name}))
		}
	}
	st.queue.each(func(t *task) {
		if t.state == stateQueued {
			closed(t)
		} else {
			d.unhold(t)
		}
	})
	st.queue.clear()
	st.queued = 0
	for pipe, dm := range st.daemons {
		for wid, t := range dm.running {
			if d.claim(wid, pipe) == t {
				closed(t)
			}
		}
		d.dropPinned(dm, true)
		dm.byeSent = true
		d.sendSimple(pipe, kindBye)
	}
	// Daemons departed whose tasks the reader has not swept: close them
	// here (the reader's claims will find nothing).
	for pipe, sw := range st.sweeping {
		for i, t := range sw.work {
			if d.claim(sw.wids[i], pipe) == t {
				closed(t)
			}
		}
		delete(st.sweeping, pipe)
		d.departed(sw.dm, sw.lost, nil)
	}
	st.ready.clear()
}
