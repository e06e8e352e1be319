package rpc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/cv"
	"github.com/nanoact/nanoact/internal/watch"
	"github.com/nanoact/nanoact/sockets"
)

// Server is a supervised request/reply service on a rep socket. Its N
// workers are actors, each owning one rep context and answering one
// request at a time, under a supervisor that restarts a worker whose
// handler panicked (after the panic's request got the error reply), with
// exponential back-off, logs the failure with zap (request number, pipe,
// error, stack) and raises it to every registered CV (Register). However many
// clients connect, at most N requests are handled at once; requests wait
// in the socket's queue, and none is lost when a worker restarts.
//
// A Server must be closed with Close or Shutdown.
type Server struct {
	sock    *sockets.Socket
	log     *zap.Logger
	sup     *actor.Ref
	workers []*actor.Ref
	life    context.Context // ends when the server stops taking requests
	stop    context.CancelFunc
	hard    context.Context // handlers' context: ends when draining is over
	kill    context.CancelFunc
	active  sync.WaitGroup // workers between taking a request and replying
	seq     atomic.Uint64
	fails   atomic.Int64
	errs    atomic.Int64            // handlers that returned an error or panicked
	rests   atomic.Int64            // workers restarted
	watch   watch.List[RequestDone] // WatchRequests

	bc cv.Broadcaster // worker events, to the CVs of Register

	mu     sync.Mutex
	closed bool
}

// ServerOption configures NewServer.
type ServerOption interface{ applyServer(*serverConfig) }

type serverConfig struct {
	rpc          []Option
	sock         []sockets.Option
	workers      int
	logger       *zap.Logger
	system       *actor.System
	backoffStart time.Duration
	backoffMax   time.Duration
}

type serverOptionFunc func(*serverConfig)

func (f serverOptionFunc) applyServer(c *serverConfig) { f(c) }

// WithWorkers sets the number of workers, the most requests handled at once
// (default 8).
func WithWorkers(n int) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		if n > 0 {
			c.workers = n
		}
	})
}

// WithListen makes the server listen on url (several may be given).
func WithListen(url string, opts ...sockets.EndpointOption) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.sock = append(c.sock, sockets.Listen(url, opts...)) })
}

// WithDial makes the server dial url, for servers that connect to a broker
// or a client that listens.
func WithDial(url string, opts ...sockets.EndpointOption) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.sock = append(c.sock, sockets.Dial(url, opts...)) })
}

// WithSocketOptions passes options to the server's rep socket (codec,
// TLS, receive size limit, ...).
func WithSocketOptions(opts ...sockets.Option) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.sock = append(c.sock, opts...) })
}

// WithRPCOptions sets the decoding and encoding modes (RecvMode, SendMode).
func WithRPCOptions(opts ...Option) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.rpc = append(c.rpc, opts...) })
}

// WithLogger sets the server's logger (default: none).
func WithLogger(l *zap.Logger) ServerOption {
	return serverOptionFunc(func(c *serverConfig) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithSystem runs the server's actors on sys instead of actor.Default().
func WithSystem(sys *actor.System) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.system = sys })
}

// WithRestartBackoff sets the delay before a crashed worker restarts: start,
// doubling on each further crash up to max (default 10 ms to 1 s).
func WithRestartBackoff(start, max time.Duration) ServerOption {
	return serverOptionFunc(func(c *serverConfig) { c.backoffStart, c.backoffMax = start, max })
}

// NewServer opens a rep socket with the given endpoints and starts the
// workers. It costs one actor per worker plus a supervisor, and one
// goroutine per worker while it waits for a request.
func NewServer[Req, Resp any](h Handler[Req, Resp], opts ...ServerOption) (*Server, error) {
	cfg := serverConfig{workers: 8, logger: zap.NewNop(), backoffStart: 10 * time.Millisecond, backoffMax: time.Second}
	for _, o := range opts {
		o.applyServer(&cfg)
	}
	sys := cfg.system
	if sys == nil {
		sys = actor.Default()
	}
	sock, err := sockets.New(sockets.Rep, append([]sockets.Option{sockets.WithLogger(cfg.logger), sockets.WithSystem(sys)}, cfg.sock...)...)
	if err != nil {
		return nil, err
	}
	s := &Server{sock: sock, log: cfg.logger.Named("rpc").With(zap.Uint32("socket", sock.ID()))}
	s.life, s.stop = context.WithCancel(context.Background())
	s.hard, s.kill = context.WithCancel(context.Background())
	strategy := actor.OneForOne(-1, 0, func(*actor.Panic) actor.Directive { return actor.Restart }).
		WithBackoff(cfg.backoffStart, cfg.backoffMax)
	rc := defaults(cfg.rpc)
	var spawnErr error
	s.sup, err = sys.Spawn("", actor.ReceiveFunc(func(c *actor.Context) {
		switch m := c.Message().(type) {
		case actor.Started:
			for i := range cfg.workers {
				w, err := newWorker(s, h, rc, i)
				if err == nil {
					var ref *actor.Ref
					if ref, err = c.Spawn(fmt.Sprintf("worker-%d", i), w, actor.WithSupervisor(strategy)); err == nil {
						s.workers = append(s.workers, ref)
						continue
					}
				}
				spawnErr = err
				return
			}
		case actor.ChildFailed:
			s.fails.Add(1)
			lvl := zap.WarnLevel
			if _, ok := m.Reason.Value.(*PanicError); ok {
				lvl = zap.DebugLevel // serveOne logged it once, with the request and its peer
			}
			s.log.Log(lvl, "worker crashed; restarting", zap.Stringer("worker", m.Child), zap.Any("panic", m.Reason.Value), zap.Stringer("directive", m.Directive))
			s.bc.Broadcast(cv.Event{Kind: cv.Failed, Child: m.Child.String(),
				Err: &nanoact.Error{Code: nanoact.CodeInternal, Op: "rpc: worker", Err: m.Reason}})
		case actor.ChildStopped:
			s.bc.Broadcast(cv.Event{Kind: cv.Stopped, Child: m.Child.String()})
		}
	}), actor.WithSupervisor(strategy))
	if err == nil && spawnErr != nil {
		err = spawnErr
	}
	if err != nil {
		s.stop()
		s.kill()
		if s.sup != nil {
			_ = s.sup.Stop(context.Background())
		}
		_ = sock.Close()
		return nil, err
	}
	return s, nil
}

// Socket returns the server's rep socket, for its listeners, options and
// statistics.
func (s *Server) Socket() *sockets.Socket { return s.sock }

// URL returns the URL of the server's first listener ("" if none), with
// the port bound for port 0.
func (s *Server) URL() string {
	if ls := s.sock.Listeners(); len(ls) > 0 {
		return ls[0].URL()
	}
	return ""
}

// Failures returns how many times a worker crashed.
func (s *Server) Failures() int64 { return s.fails.Load() }

// Requests returns how many requests the workers have taken so far. It
// costs one atomic load.
func (s *Server) Requests() int64 { return int64(s.seq.Load()) }

// Errors returns how many requests' handlers returned an error or
// panicked (those answered with an error reply). One atomic load.
func (s *Server) Errors() int64 { return s.errs.Load() }

// Restarts returns how many times a crashed worker was restarted (after
// its back-off). One atomic load.
func (s *Server) Restarts() int64 { return s.rests.Load() }

// RequestDone describes one handled request, for WatchRequests.
type RequestDone struct {
	// Latency is the handler's time: from the decoded request to the
	// encoded reply, before the reply is sent.
	Latency time.Duration
	// Err is the handler's error (a *PanicError for a panic), or nil.
	Err error
}

// WatchRequests calls fn after each request a worker handles, on that
// worker's goroutine, before its reply is sent: fn must be quick and must
// not block. It is the hook of latency histograms (package metrics).
//
// Cost: with no watcher, one atomic load per request; with one, two clock
// reads and the call. The returned stop function unregisters fn
// (idempotent); a call in progress may finish after it.
func (s *Server) WatchRequests(fn func(RequestDone)) (stop func()) { return s.watch.Add(fn) }

// Register adds c to the server's supervisor broadcast: c is told of
// every worker event as a cv.Event. A worker whose handler panicked is
// Failed: c's flag is raised, so Wait returns false, and c.Err gives the
// panic (an ErrInternal wrapping an *actor.Panic). Its restart, after the
// back-off, is Restarted; a worker that stops (Shutdown, Close) is
// Stopped; once the server has stopped, c gets Closed, at once if it
// registers later. Those are plain signals: Wait returns true and c.Last
// tells which. unregister removes c (idempotent). It never blocks.
func (s *Server) Register(c *cv.CV) (unregister func()) { return s.bc.Register(c) }

// Shutdown stops taking requests, lets the requests being handled finish
// and send their replies until ctx ends, then stops every worker and
// closes the socket. It returns ctx's error (ErrTimedOut/ErrCanceled) if
// it ran out of time, ErrClosed if the server was already closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "rpc: shutdown"}
	}
	s.closed = true
	s.stop() // workers waiting for a request give up; those busy finish
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = nanoact.FromContext(ctx, "rpc: shutdown")
	}
	if err == nil {
		err = s.sock.Flush(ctx) // the last replies reach their connections
	}
	s.kill()           // handlers still running are told to give up
	_ = s.sock.Close() // and whatever is left is aborted
	<-done
	_ = s.sup.Stop(context.Background())
	_ = s.bc.Close() // after the workers' Stopped events
	s.log.Info("server stopped", zap.Int64("failures", s.fails.Load()))
	return err
}

// Close stops the server at once: requests being handled lose their
// replies. It returns once every worker has stopped.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, nanoact.ErrCanceled) {
		return nil
	}
	return err
}

// next asks a worker to take the next request.
type next struct{}

// worker owns one rep context and answers one request per next message.
type worker[Req, Resp any] struct {
	s   *Server
	h   Handler[Req, Resp]
	cfg config
	c   *sockets.Context
	id  int
	// restarting is set by Restarting, so that the Started that follows
	// is broadcast as Restarted.
	restarting bool
}

func newWorker[Req, Resp any](s *Server, h Handler[Req, Resp], cfg config, id int) (*worker[Req, Resp], error) {
	c, err := s.sock.Context()
	if err != nil {
		return nil, err
	}
	return &worker[Req, Resp]{s: s, h: h, cfg: cfg, c: c, id: id}, nil
}

func (w *worker[Req, Resp]) Receive(c *actor.Context) {
	switch c.Message().(type) {
	case actor.Restarting:
		w.restarting = true
	case actor.Started:
		if w.restarting {
			w.restarting = false
			w.s.rests.Add(1)
			w.s.bc.Broadcast(cv.Event{Kind: cv.Restarted, Child: c.Self().String()})
		}
		c.Self().Send(next{})
	case next:
		if w.serveOne() {
			c.Self().Send(next{})
		}
	}
}

// serveOne waits for one request and answers it; false once the server
// stops taking requests. A panicking handler's request gets the error
// reply, then the panic goes on to the supervisor, which restarts the
// worker.
func (w *worker[Req, Resp]) serveOne() bool {
	s := w.s
	s.mu.Lock()
	if s.life.Err() != nil { // Shutdown has begun: Add must not race Wait
		s.mu.Unlock()
		return false
	}
	s.active.Add(1)
	s.mu.Unlock()
	defer s.active.Done()
	m, err := w.c.Recv(s.life)
	if err != nil {
		return s.life.Err() == nil && !errors.Is(err, nanoact.ErrClosed)
	}
	n := s.seq.Add(1)
	pipe := m.Pipe
	var start time.Time
	watched := s.watch.On()
	if watched {
		start = time.Now()
	}
	reply, herr := serve(s.hard, m, w.c.Codec(), w.h, w.cfg)
	if herr != nil {
		s.errs.Add(1)
	}
	if watched {
		s.watch.Emit(RequestDone{Latency: time.Since(start), Err: herr})
	}
	// The reply goes out whatever happens; the socket's close aborts it.
	err = w.c.SendMsg(context.Background(), reply)
	// A sent reply's wrapper is empty (SendMsg took its buffers); an
	// unsent one still holds them: either way it goes back to the pool.
	reply.Free()
	if err != nil && s.life.Err() == nil {
		s.log.Warn("reply not sent", zap.Uint64("request", n), zap.Uint32("pipe", pipe), zap.String("remote", s.sock.PeerAddr(pipe)), zap.Error(err))
	}
	var pe *PanicError
	if errors.As(herr, &pe) {
		s.log.Error("handler panicked; worker restarting", zap.Uint64("request", n), zap.Uint32("pipe", pipe), zap.String("remote", s.sock.PeerAddr(pipe)),
			zap.Int("worker", w.id), zap.Any("panic", pe.Value), zap.ByteString("stack", pe.Stack))
		panic(pe) // to the supervisor: restart this worker
	}
	if herr != nil {
		s.log.Debug("handler failed", zap.Uint64("request", n), zap.Uint32("pipe", pipe), zap.Error(herr))
	}
	return true
}
