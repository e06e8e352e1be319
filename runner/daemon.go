package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/sockets"
)

// Daemon is mirai's daemon: it dials a dispatcher, answers its challenge
// with proof of the session token, and runs the tasks it is sent, looked up by name in its
// Registry, up to WithConcurrency at once, each on a goroutine of its own
// under a context that a cancel message, the task's time-out or the loss
// of the connection ends. A panicking task is recovered and reported; the
// daemon lives on.
//
// It redials after a network blip (and says hello again; tasks that were
// running are cancelled, since the dispatcher has re-queued or failed
// them) and exits when the dispatcher says bye (the dispatcher closed, or
// the daemon asked to leave after WithIdleExit or reached WithMaxTasks), when the
// connection stays lost for WithReconnectGrace, when it is refused or
// replaced (another daemon joined under its id), or when
// Run's ctx ends. WithWallTime, WithCleanup and WithFinishRunning shape
// its life further; WithInterruptGrace bounds how long it waits, when it
// stops, for tasks that ignore their cancel.
//
// A Daemon is made by NewDaemon and must be Closed; Close while it runs
// drops its connection abruptly, as if its process died.
type Daemon struct {
	reg  *Registry
	cfg  daemonConfig
	sock *sockets.Socket
	log  *zap.Logger
	id   string

	// life ends when the daemon stops: Run returns, Close. Tasks'
	// contexts derive from base, life without its end: Run and Close
	// cancel them (cancelAll), unless WithFinishRunning lets them finish.
	life    context.Context
	base    context.Context
	stop    context.CancelCauseFunc
	unwatch func()
	started atomic.Int64 // tasks received
	// peerLimit is the dispatcher's frame limit from its challenge (0:
	// none said); results larger than it or ours go back as errors.
	peerLimit atomic.Uint64

	mu       sync.Mutex
	pipe     uint32              // the current connection; 0 while none
	running  map[uint64]*taskCtx // the running tasks' contexts
	leaving  bool
	lost     *time.Timer
	idle     *time.Timer
	closed   bool
	runState int // 0: not run, 1: running, 2: done
	// early is a challenge that arrived before its connection's event:
	// answered when the event comes.
	early     *frame
	earlyPipe uint32
	chal      *time.Timer // the wait for the current connection's challenge
	// live holds the tasks whose goroutines have not returned, by wire
	// id (their names alias their messages); liveWait is closed when it
	// empties; abandoned: a stop gave up waiting (interrupt.go).
	live      map[uint64]LeftTask
	liveWait  chan struct{}
	abandoned bool
	closing   chan struct{} // closed by Close
	wall      *time.Timer   // WithWallTime's (lifetime.go)
	wallDone  bool          // the wall time has passed
}

// challengeWait is how long a daemon waits for a new connection's
// challenge: a dispatcher older than wire version 2 sends none, and
// would close the connection after its hello time-out, again and again.
var challengeWait = DefaultHelloTimeout

type daemonConfig struct {
	log       *zap.Logger
	sys       *actor.System
	codec     sockets.Codec
	token     string
	id        string
	max       int
	maxTasks  int
	idle      time.Duration
	grace     time.Duration
	caPEM     []byte
	tls       *sockets.TLSConfig
	reconnect time.Duration
	maxFrame  int
	sockOpts  []sockets.Option

	tp trace.TracerProvider // WithTracerProvider

	interruptGrace time.Duration // WithInterruptGrace (interrupt.go)
	wallTime       time.Duration // WithWallTime (lifetime.go)
	cleanup        func()        // WithCleanup
	finish         bool          // WithFinishRunning
}

type daemonOptionFunc func(*daemonConfig)

func (f daemonOptionFunc) applyDaemon(c *daemonConfig) { f(c) }

// WithDaemonID sets the daemon's id, shown in the dispatcher's Status and
// logs (default host/pid/n). It survives reconnections. Ids must be
// unique on a dispatcher: a newer connection under an id takes it over,
// and a daemon whose id is taken over stops with ErrReplaced (see the
// package doc, "Daemon ids").
func WithDaemonID(id string) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.id = id })
}

// WithConcurrency sets how many tasks the daemon runs at once (default 1, as
// mirai's daemons). The dispatcher may cap it (WithPerDaemon).
func WithConcurrency(n int) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.max = n })
}

// WithMaxTasks makes the daemon exit after running n tasks (default 0: no
// limit). The dispatcher knows the limit from the hello and sends no more.
func WithMaxTasks(n int) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.maxTasks = n })
}

// WithIdleExit makes the daemon leave after d without a task (default 0:
// never). It asks the dispatcher first, so that no task in flight to it
// is lost.
func WithIdleExit(d time.Duration) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.idle = d })
}

// WithReconnectGrace sets how long the daemon keeps redialing after its
// connection is lost before it exits (default 10 s; zero or negative:
// exit at once). This is what makes daemons exit when their dispatcher
// goes away without a bye.
func WithReconnectGrace(d time.Duration) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.grace = d })
}

// WithReconnectInterval sets the wait between redials after the connection is
// lost (default 100 ms, doubling up to 1 s).
func WithReconnectInterval(d time.Duration) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.reconnect = d })
}

// WithTrustCert makes a daemon dialing tls+tcp:// or wss:// trust certPEM, the
// dispatcher's certificate (Dispatcher.CertPEM), and verify the server
// against it and the URL's host.
func WithTrustCert(certPEM []byte) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.caPEM = certPEM })
}

// WithDaemonTLS sets the client TLS config of a daemon dialing tls+tcp://
// or wss:// (instead of WithTrustCert).
func WithDaemonTLS(cfg *sockets.TLSConfig) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.tls = cfg })
}

var daemonSeq atomic.Uint64

func defaultDaemonID() string {
	h, err := os.Hostname()
	if err != nil {
		h = "localhost"
	}
	return fmt.Sprintf("%s/%d/%d", h, os.Getpid(), daemonSeq.Add(1))
}

// NewDaemon opens a poly socket (its recv-size-max set by WithMaxFrame) and
// dials url with one attempt, then
// redials in the background whenever the connection is lost. It does not
// run tasks until Run. It blocks for the dial (and the TLS handshake).
//
// Errors: ErrInvalid for a nil registry or an id over 1 KiB; those of a
// synchronous dial:
// ErrConnRefused (nobody listens), ErrPeerAuth (the server's certificate
// does not verify), ErrAddrInvalid, ErrNotSupported.
func NewDaemon(reg *Registry, url string, opts ...DaemonOption) (*Daemon, error) {
	return newDaemon(context.Background(), reg, url, opts...)
}

// newDaemon is NewDaemon with its dial bounded by ctx as well
// (StartDaemons).
func newDaemon(ctx context.Context, reg *Registry, url string, opts ...DaemonOption) (*Daemon, error) {
	if reg == nil {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, "runner: daemon", "nil registry")
	}
	cfg := daemonConfig{log: zap.NewNop(), max: 1, grace: 10 * time.Second, reconnect: 100 * time.Millisecond}
	for _, o := range opts {
		if o != nil {
			o.applyDaemon(&cfg)
		}
	}
	if cfg.log == nil {
		cfg.log = zap.NewNop()
	}
	if cfg.max < 1 {
		cfg.max = 1
	}
	if cfg.id == "" {
		cfg.id = defaultDaemonID()
	}
	if len(cfg.id) > maxDaemonID {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, "runner: daemon", "id of %d bytes, at most %d", len(cfg.id), maxDaemonID)
	}
	if cfg.maxFrame <= 0 {
		cfg.maxFrame = DefaultMaxFrame
	}
	if cfg.reconnect <= 0 {
		cfg.reconnect = 100 * time.Millisecond
	}
	sys := cfg.sys
	if sys == nil {
		sys = actor.Default()
	}
	sopts := append([]sockets.Option{sockets.WithLogger(cfg.log), sockets.WithSystem(sys),
		sockets.WithReconnect(cfg.reconnect, max(cfg.reconnect, time.Second))}, cfg.sockOpts...)
	sopts = append(sopts, sockets.WithRecvSizeMax(cfg.maxFrame+frameSlack))
	if cfg.codec != nil {
		sopts = append(sopts, sockets.WithCodec(cfg.codec))
	}
	var eopts []sockets.EndpointOption
	if isTLSURL(url) {
		tc := cfg.tls
		if tc == nil {
			var topts []sockets.TLSOption
			if cfg.caPEM != nil {
				topts = append(topts, sockets.TLSCA(cfg.caPEM))
			}
			var err error
			if tc, err = sockets.NewTLSClient(topts...); err != nil {
				return nil, err
			}
		}
		eopts = append(eopts, sockets.TLS(tc))
	}
	sock, err := sockets.New(sockets.Poly, sopts...)
	if err != nil {
		return nil, err
	}
	dm := &Daemon{reg: reg, cfg: cfg, sock: sock, id: cfg.id, running: make(map[uint64]*taskCtx), closing: make(chan struct{})}
	dm.log = cfg.log.Named("runner").With(zap.String("daemon", cfg.id), zap.Uint32("socket", sock.ID()))
	dm.life, dm.stop = context.WithCancelCause(context.Background())
	dm.base = context.WithoutCancel(dm.life)
	if dm.unwatch, err = sock.WatchPipes(dm.onPipe); err != nil {
		_ = sock.Close()
		return nil, err
	}
	eopts = append(eopts, sockets.Sync)
	if ctx.Done() != nil {
		eopts = append(eopts, sockets.StartContext(ctx))
	}
	if _, err := sock.Dial(url, eopts...); err != nil {
		dm.unwatch()
		_ = sock.Close()
		return nil, err
	}
	dm.log.Info("daemon connected", zap.String("url", url))
	return dm, nil
}

// ID returns the daemon's id.
func (dm *Daemon) ID() string { return dm.id }

// onPipe runs on the socket's watch goroutine for each connection event.
func (dm *Daemon) onPipe(ev sockets.PipeEvent) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if ev.Added {
		if dm.pipe != 0 || dm.closed || dm.life.Err() != nil {
			return // a stopping daemon takes no new connection
		}
		dm.pipe = ev.Pipe
		if dm.lost != nil {
			dm.lost.Stop()
			dm.lost = nil
		}
		dm.leaving = false
		if dm.wallDone { // lifetime.go
			dm.stop(errWallTime)
			return
		}
		if dm.cfg.maxTasks > 0 && dm.cfg.maxTasks-int(dm.started.Load()) <= 0 {
			dm.stop(errBye)
			return
		}
		// The dispatcher speaks first: Run answers its challenge, or
		// this, if the challenge came before the event.
		pipe := ev.Pipe
		dm.chal = time.AfterFunc(challengeWait, func() { dm.noChallenge(pipe) })
		if c := dm.early; c != nil && dm.earlyPipe == ev.Pipe {
			dm.answerLocked(ev.Pipe, c)
		}
		dm.early = nil
		dm.armIdle()
		return
	}
	if ev.Pipe != dm.pipe {
		return
	}
	dm.pipe = 0
	dm.stopChallengeWait()
	if dm.finishOnLoss() { // lifetime.go
		return
	}
	// The dispatcher has re-queued or failed what ran on this connection.
	for id, tc := range dm.running {
		tc.cancel()
		delete(dm.running, id)
	}
	if dm.closed {
		return
	}
	if dm.wallDone { // lifetime.go
		dm.stop(errWallTime)
		return
	}
	if dm.cfg.maxTasks > 0 && int(dm.started.Load()) >= dm.cfg.maxTasks {
		dm.stop(errBye)
		return
	}
	if dm.cfg.grace <= 0 {
		dm.stop(errLost)
		return
	}
	dm.log.Debug("connection lost; redialing", zap.Uint32("pipe", ev.Pipe), zap.Duration("grace", dm.cfg.grace)) // the socket logs it at Info, with the peer
	dm.lost = time.AfterFunc(dm.cfg.grace, func() { dm.stop(errLost) })
}

// ErrReplaced is matched (errors.Is) by the error a daemon's Run returns
// when the dispatcher took its id over for a newer connection under the
// same id (see the package doc, "Daemon ids"): another daemon was started
// with its id (WithDaemonID), or its own earlier connection was the one
// the dispatcher kept. The daemon does not redial, so that two live
// daemons under one id do not take it from each other for ever. The
// error is a *nanoact.Error of code CodeExists (it also matches
// nanoact.ErrExists, not ErrPeerAuth) whose text names the id and the
// newer connection's address.
var ErrReplaced = errors.New("replaced")

// refused stops the daemon for the refusal f, if it came on the current
// connection; one from an older connection (already lost here) is
// ignored. It runs on the connection's reader.
func (dm *Daemon) refused(pipe uint32, f *frame) {
	dm.mu.Lock()
	current := pipe == dm.pipe
	dm.mu.Unlock()
	if !current {
		dm.log.Debug("refusal on an old connection ignored", zap.Uint32("pipe", pipe), zap.String("reason", f.text))
		return
	}
	if nanoact.Code(f.code) == nanoact.CodeExists {
		dm.log.Warn("replaced by a newer connection under this id", zap.Uint32("pipe", pipe), zap.String("reason", f.text))
		dm.stop(&nanoact.Error{Code: nanoact.CodeExists, Op: "runner: daemon", Err: fmt.Errorf("%w: %s", ErrReplaced, f.text)})
		return
	}
	// A refused hello (bad token or wire version); also every refusal
	// of a dispatcher that sends no code.
	dm.log.Warn("refused by the dispatcher", zap.Uint32("pipe", pipe), zap.String("reason", f.text))
	dm.stop(&nanoact.Error{Code: nanoact.CodePeerAuth, Op: "runner: daemon", Err: fmt.Errorf("refused: %s", f.text)})
}

// Causes of a daemon's end besides errLost and ctx's errors.
var (
	errBye          = errors.New("bye")
	errDaemonClosed = errors.New("daemon closed")
)

var errLost = &nanoact.Error{Code: nanoact.CodeConnShut, Op: "runner: daemon", Err: errors.New("connection to the dispatcher lost")}

// armIdle (re)starts the idle timer; call with mu held.
func (dm *Daemon) armIdle() {
	if dm.cfg.idle <= 0 || len(dm.running) > 0 || dm.pipe == 0 {
		return
	}
	if dm.idle != nil {
		dm.idle.Stop()
	}
	pipe := dm.pipe
	dm.idle = time.AfterFunc(dm.cfg.idle, func() { dm.onIdle(pipe) })
}

func (dm *Daemon) onIdle(pipe uint32) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if dm.pipe != pipe || len(dm.running) > 0 || dm.leaving {
		return
	}
	dm.leaving = true
	dm.log.Info("idle: leaving", zap.Duration("idle", dm.cfg.idle))
	dm.sendLeave(pipe)
}

// Run runs tasks until the daemon exits (see Daemon) and returns why: nil
// after the dispatcher's bye, an error matching nanoact.ErrPeerAuth if it
// was refused (bad token or wire version), ErrReplaced if a newer
// connection took its id over, ErrProtocol if the dispatcher
// sent no challenge within 10 s (one older than wire version 2),
// ErrConnShut if the connection stayed lost for WithReconnectGrace, ErrClosed
// after Close, or ctx's error. Before it returns,
// tasks still running are cancelled (see WithFinishRunning) and waited
// for, at most WithInterruptGrace: tasks that ignore their cancel longer
// are left running, and Run's error then matches ErrTimedOut and holds a
// *LeftRunningError listing them (its Cause being the error above). Run
// may be called once.
func (dm *Daemon) Run(ctx context.Context) error {
	dm.mu.Lock()
	if dm.runState != 0 || dm.closed {
		dm.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeState, Op: "runner: daemon run"}
	}
	dm.runState = 1
	dm.armWallTime() // lifetime.go
	dm.mu.Unlock()
	stopCtx := context.AfterFunc(ctx, func() { dm.stop(nanoact.FromContext(ctx, "runner: daemon")) })
	defer stopCtx()
	// Messages are handled on the connection's reader (newRxLoop) until
	// the daemon stops or its socket closes.
	rx := newRxLoop(dm.sock, dm.life, dm.handle)
	rx.Start()
	select {
	case <-dm.life.Done():
	case <-rx.Done():
	}
	rx.Stop()
	left := dm.wind(ctx) // lifetime.go
	var err error
	switch cause := context.Cause(dm.life); cause {
	case errBye, errWallTime:
	case errDaemonClosed:
		err = &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: daemon run"}
	default:
		err = cause
	}
	return leftError("runner: daemon run", left, err)
}

// answer says hello in answer to the challenge c on pipe: the MAC of
// its nonce and of the daemon's id and claims, keyed by the token (see
// helloMAC), so the token itself never crosses the wire.
func (dm *Daemon) answer(pipe uint32, c *frame) {
	if c.version != wireVersion || len(c.nonce) != nonceSize {
		dm.log.Warn("challenge not answered", zap.Uint32("pipe", pipe), zap.Uint64("version", c.version),
			zap.Int("nonce", len(c.nonce)))
		return
	}
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if dm.pipe != pipe {
		// Before its connection's event: keep it for the event. The
		// message is handled on its pipe's reader, so it may come before
		// the event, and even before the removal event of the connection
		// it replaces (dm.pipe is then that one's). One from a connection
		// already gone is kept too, and never used: its event came and
		// went.
		early := *c
		early.nonce = slices.Clone(c.nonce)
		dm.early, dm.earlyPipe = &early, pipe
		return
	}
	dm.answerLocked(pipe, c)
}

// answerLocked sends the hello that answers c on pipe; call with mu
// held.
func (dm *Daemon) answerLocked(pipe uint32, c *frame) {
	dm.stopChallengeWait()
	dm.peerLimit.Store(c.limit)
	var tasks uint64
	if dm.cfg.maxTasks > 0 {
		left := dm.cfg.maxTasks - int(dm.started.Load())
		if left <= 0 {
			dm.stop(errBye)
			return
		}
		tasks = uint64(left)
	}
	mx := uint64(dm.cfg.max)
	m := sockets.NewMsg(nil)
	m.Body = appendHello(m.Body[:0], helloMAC(dm.cfg.token, c.nonce, dm.id, mx, tasks), dm.id, mx, tasks)
	if err := dm.sock.Send(sockets.NonBlock(dm.life), m, sockets.ToPipe(pipe)); err != nil {
		dm.log.Warn("hello not sent", zap.Uint32("pipe", pipe), zap.Error(err))
	}
}

// stopChallengeWait stops the wait for a challenge; call with mu held.
func (dm *Daemon) stopChallengeWait() {
	if dm.chal != nil {
		dm.chal.Stop()
		dm.chal = nil
	}
}

// noChallenge stops the daemon when connection pipe has had no
// challenge in time.
func (dm *Daemon) noChallenge(pipe uint32) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if dm.pipe != pipe || dm.chal == nil || dm.closed {
		return
	}
	switch dm.runState {
	case 0: // not running yet: the challenge waits in the socket for Run
		dm.chal = time.AfterFunc(challengeWait, func() { dm.noChallenge(pipe) })
		return
	case 2: // Run has returned
		dm.chal = nil
		return
	}
	dm.chal = nil
	dm.log.Warn("no challenge from the dispatcher", zap.Uint32("pipe", pipe), zap.Duration("waited", challengeWait))
	dm.stop(&nanoact.Error{Code: nanoact.CodeProtocol, Op: "runner: daemon",
		Err: fmt.Errorf("no challenge from the dispatcher within %v (one older than wire version %d?)", challengeWait, wireVersion)})
}

// start runs one task on a goroutine of its own.
func (dm *Daemon) start(m *sockets.Msg, f *frame) {
	pipe, id := m.Pipe, f.id
	tc := newTaskCtx(dm.base, f)
	dm.mu.Lock()
	if dm.pipe != pipe || dm.runState != 1 {
		// A task from a connection already lost: the dispatcher has dealt
		// with it.
		dm.mu.Unlock()
		tc.cancel()
		m.Free()
		return
	}
	dm.running[id] = tc
	if dm.idle != nil {
		dm.idle.Stop()
	}
	dm.addLive(id, f.name, f)
	dm.mu.Unlock()
	dm.started.Add(1)
	name, args := f.name, f.args
	ctx := dm.traceRun(tc, f)
	go func() {
		defer func() {
			dm.doneLive(id)
			m.Free() // name and args aliased it
		}()
		body := dm.call(ctx, id, name, args)
		dm.runCleanup() // lifetime.go
		dm.fit(id, body)
		endRun(ctx, body.Body)
		tc.cancel()
		dm.mu.Lock()
		delete(dm.running, id)
		dm.armIdle()
		dm.mu.Unlock()
		if dm.life.Err() != nil {
			// The daemon is going away: its connection drops and the
			// dispatcher re-queues or fails the task, as for a crash.
			body.Free()
			return
		}
		// The result goes back on the connection the task came on, or
		// nowhere: once that connection is gone the dispatcher has
		// re-queued or failed the attempt, and on a new connection a
		// message before the hello would get it closed as junk.
		err := dm.sock.Send(dm.life, body, sockets.ToPipe(pipe))
		// Send took the buffers (and freed them if it failed): this
		// returns the empty wrapper to the message pool.
		body.Free()
		if err != nil && dm.life.Err() == nil {
			dm.log.Warn("result not sent", zap.Uint64("task", id), zap.Error(err))
		}
	}()
}

// call runs the task and encodes its result message.
func (dm *Daemon) call(ctx context.Context, id uint64, name string, args []byte) (out *sockets.Msg) {
	out = sockets.NewMsg(nil)
	fn := dm.reg.lookup(name)
	if fn == nil {
		out.Body = appendResult(out.Body[:0], id, nil, uint64(nanoact.CodeNotFound), fmt.Sprintf("task %q not registered", name), false, "")
		return out
	}
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			dm.log.Warn("task panicked", zap.String("task", name), zap.Any("panic", r), zap.ByteString("stack", stack))
			out.Body = appendResult(out.Body[:0], id, nil, 0, fmt.Sprint(r), true, string(stack))
		}
	}()
	v, err := fn(ctx, dm.sock.Codec(), args)
	if err != nil {
		out.Body = appendResult(out.Body[:0], id, nil, uint64(nanoact.CodeOf(err)), err.Error(), false, "")
		return out
	}
	out.Body = appendResult(out.Body[:0], id, v, 0, "", false, "")
	return out
}

// fit replaces a result message that exceeds the frame limit (the
// smaller of ours and the dispatcher's) with an error result saying so.
func (dm *Daemon) fit(id uint64, out *sockets.Msg) {
	limit := uint64(dm.cfg.maxFrame)
	if p := dm.peerLimit.Load(); p > 0 && p < limit {
		limit = p
	}
	if n := uint64(len(out.Body)); n > limit {
		out.Body = appendResult(out.Body[:0], id, nil, uint64(nanoact.CodeMsgSize),
			fmt.Sprintf("result of %d bytes exceeds the %d-byte frame limit (WithMaxFrame)", n, limit), false, "")
	}
}

// Close drops the daemon's connection and stops it: a running Run cancels
// its tasks, waits for them and returns ErrClosed. It blocks until the
// socket is closed and its tasks have returned, or WithInterruptGrace
// has passed since their cancel: it then returns an error matching
// ErrTimedOut that lists the tasks left running (*LeftRunningError),
// unless Run has reported them. A second Close returns ErrClosed.
func (dm *Daemon) Close() error {
	dm.mu.Lock()
	if dm.closed {
		dm.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: close daemon"}
	}
	dm.closed = true
	dm.stopChallengeWait()
	if dm.lost != nil {
		dm.lost.Stop()
	}
	if dm.idle != nil {
		dm.idle.Stop()
	}
	if dm.wall != nil {
		dm.wall.Stop()
	}
	close(dm.closing)
	dm.mu.Unlock()
	dm.stop(errDaemonClosed)
	dm.cancelAll()
	dm.unwatch()
	err := dm.sock.Close()
	return leftError("runner: close daemon", dm.waitTasks(), err)
}

// RunDaemon is NewDaemon, Run and Close: it joins the dispatcher at url
// and runs tasks until the daemon exits, returning Run's error (or
// NewDaemon's). It blocks for the daemon's whole life.
func RunDaemon(ctx context.Context, reg *Registry, url string, opts ...DaemonOption) error {
	dm, err := NewDaemon(reg, url, opts...)
	if err != nil {
		return err
	}
	err = dm.Run(ctx)
	_ = dm.Close()
	return err
}
