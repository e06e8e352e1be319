package actor

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/nanoact/nanoact"
)

// throughput is how many messages a mailbox run handles before it yields
// the processor (protoactor's default).
const throughput = 300

// System is one protoactor actor system with nanoact's lifecycle rules: it
// owns every goroutine the runtime starts, logs only through its zap
// logger, and Close returns after all of them have exited.
//
// A System is made only by NewSystem (or Default) and must be Closed,
// except the Default one. An idle System runs no goroutine at all: an
// actor's mailbox gets one only while it has messages (the goroutine then
// lingers 500 µs for the next mailbox before it exits), and dead letters
// and supervision events are handled inline. Its methods are safe for
// concurrent use.
type System struct {
	as   *pa.ActorSystem
	log  *zap.Logger
	disp *dispatcher
	mbox pa.MailboxProducer
	root *rootSupervisor
	work group // mailbox goroutines and pending back-off timers

	mu     sync.RWMutex // closed and timers; held shared across a top-level spawn
	closed bool
	timers map[*time.Timer]struct{}

	tops sync.Map  // pid id -> *Ref, the live top-level actors
	reqs sync.Pool // *request, recycled after an answer was taken
}

// Option configures NewSystem.
type Option interface{ apply(*config) }

type config struct {
	log *zap.Logger
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogger sets the logger of the system. The system logs under the name
// "actor" with a "system" field; protoactor's own lines (for example "actor
// system started" at Info and "[ACTOR] Recovering" at Info after a panic)
// come through the same core under the name "actor.protoactor". The
// default, and the value used for nil, is zap.NewNop(): nothing is written
// anywhere, and in no case does the runtime write to stdout or stderr on
// its own.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) { c.log = l })
}

// NewSystem starts an actor system. It starts no goroutine, but it is
// heavy: about 4 ms and 2.8 MiB, almost all of it protoactor's process
// registry (1024 concurrent maps). Share one System, usually Default,
// rather than make one per component. The system must be Closed.
func NewSystem(opts ...Option) *System {
	var cfg config
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.log == nil {
		cfg.log = zap.NewNop()
	}
	base := cfg.log.Named("actor")
	s := &System{timers: make(map[*time.Timer]struct{})}
	s.disp = newDispatcher(&s.work)
	s.mbox = pa.Unbounded()
	s.root = &rootSupervisor{s: s}

	s.as = pa.NewActorSystem(
		pa.WithLoggerFactory(func(as *pa.ActorSystem) *slog.Logger {
			l := base.With(zap.String("system", as.ID))
			return slog.New(zapslog.NewHandler(l.Core(), zapslog.WithName(l.Name()+".protoactor")))
		}),
		// The default prints supervision failures with fmt.Println.
		pa.WithDeveloperSupervisionLogging(false),
	)
	s.log = base.With(zap.String("system", s.as.ID))

	// protoactor subscribes its dead-letter logger to the event stream in
	// NewActorSystem. That logger is throttled by a goroutine that sleeps
	// for a second and that nobody can stop, so replace the stream (nothing
	// has used it yet; every publisher reads the field at the time of the
	// call) and subscribe our own handler, which runs inline.
	s.as.EventStream = eventstream.NewEventStream()
	s.as.EventStream.Subscribe(s.onEvent)
	return s
}

var (
	defaultOnce sync.Once
	defaultSys  *System
)

// Default returns the process-wide System, created with a no-op logger on
// first use (about 4 ms). Library code never closes it. Half a millisecond
// after its actors last ran it has no goroutine left, so test suites need
// no goleak exception for it (goleak retries for longer than that).
func Default() *System {
	defaultOnce.Do(func() { defaultSys = NewSystem() })
	return defaultSys
}

// Spawn starts a top-level actor that runs r. An empty name gets a
// generated one ("$1", "$2", …). It does not block: r receives Started on
// the actor's goroutine, after Spawn may have returned. Spawn plus Stop
// costs about 7 µs and 1.7 KiB in 26 allocations.
//
// A top-level actor is supervised by the system with the zero Strategy: a
// panicking actor is restarted, at most 10 times in 10 s, then stopped.
// WithSupervisor sets how the new actor supervises its own children.
//
// Spawn returns ErrClosed once Close has begun, ErrExists if name is taken
// and ErrInvalid for a nil r.
func (s *System) Spawn(name string, r Receiver, opts ...SpawnOption) (*Ref, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, nanoact.Errorf(nanoact.CodeClosed, "actor: spawn "+name, "")
	}
	return s.spawn(nil, nil, name, r, opts)
}

// spawn starts an actor as a child of parent (whose protoactor context is
// pc), or at top level when parent is nil. For a child it must run on the
// parent's goroutine.
func (s *System) spawn(parent *Ref, pc pa.Context, name string, r Receiver, opts []SpawnOption) (*Ref, error) {
	if r == nil {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, "actor: spawn "+name, "nil receiver")
	}
	var sc spawnConfig
	for _, o := range opts {
		o.applySpawn(&sc)
	}
	if name == "" {
		name = s.as.ProcessRegistry.NextId()
	}
	id := name
	if parent != nil {
		id = parent.pid.Id + "/" + name
	}
	ref := &Ref{
		sys:      s,
		pid:      pa.NewPID(s.as.Address(), id),
		parent:   parent,
		done:     make(chan struct{}),
		strategy: sc.strategy,
		recv:     r,
	}
	props := pa.PropsFromProducer(func() pa.Actor { return (*cell)(ref) },
		pa.WithDispatcher(s.disp), pa.WithMailbox(s.mbox))

	// Register before the actor can run, so that a failure in Started
	// finds its Ref.
	var err error
	if parent == nil {
		if _, dup := s.tops.LoadOrStore(id, ref); dup {
			return nil, nanoact.Errorf(nanoact.CodeExists, "actor: spawn "+name, "")
		}
		props.Configure(pa.WithGuardian(s.root))
		_, err = s.as.Root.SpawnNamed(props, name)
		if err != nil {
			s.tops.CompareAndDelete(id, ref)
		}
	} else {
		if parent.children == nil {
			parent.children = make(map[string]*Ref)
		}
		if _, dup := parent.children[id]; dup {
			return nil, nanoact.Errorf(nanoact.CodeExists, "actor: spawn "+id, "")
		}
		parent.children[id] = ref
		_, err = pc.SpawnNamed(props, name)
		if err != nil {
			delete(parent.children, id)
		}
	}
	if err != nil {
		// The only error protoactor returns here is ErrNameExists.
		return nil, nanoact.Errorf(nanoact.CodeExists, "actor: spawn "+id, "%w", err)
	}
	return ref, nil
}

// Close stops every actor, children first, then waits until each has
// received Stopped and every goroutine and timer of the system has
// finished, and shuts protoactor's system down. Messages still queued are
// dropped; pending Requests and Calls fail with ErrClosed. A Receiver that
// never returns keeps Close waiting, so never call Close from inside an
// actor. A second Close returns ErrClosed.
func (s *System) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nanoact.Errorf(nanoact.CodeClosed, "actor: close", "")
	}
	s.closed = true
	timers := s.timers
	s.timers = nil
	s.mu.Unlock()

	// Cancel pending restarts first, so that no Restart chases a Stop.
	for t := range timers {
		if t.Stop() {
			s.work.done()
		}
	}
	var refs []*Ref
	s.tops.Range(func(_, v any) bool {
		refs = append(refs, v.(*Ref))
		return true
	})
	for _, r := range refs {
		r.stop()
	}
	for _, r := range refs {
		<-r.done
	}
	close(s.disp.quit)
	s.work.wait()
	s.as.Shutdown()
	return nil
}

// after runs fn once d has passed, on a goroutine counted by s.work, unless
// Close comes first.
func (s *System) after(d time.Duration, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.work.add()
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer s.work.done()
		s.mu.Lock()
		if s.timers == nil { // closed: Close could not stop us in time
			s.mu.Unlock()
			return
		}
		delete(s.timers, t)
		s.mu.Unlock()
		fn()
	})
	s.timers[t] = struct{}{}
}

// onEvent handles protoactor's event stream inline. Only dead letters come
// through it: supervision events are published by protoactor's strategies,
// which nanoact does not use.
func (s *System) onEvent(evt any) {
	switch e := evt.(type) {
	case *pa.DeadLetterEvent:
		switch m := e.Message.(type) {
		case *request:
			m.complete(nil, closedError(m.op(e.PID)))
		case *pa.Watch:
			// What protoactor's own handler does: a watcher of a dead
			// process learns at once that it is gone.
			if p, ok := s.as.ProcessRegistry.Get(m.Watcher); ok {
				p.SendSystemMessage(m.Watcher, &pa.Terminated{Who: e.PID, Why: pa.TerminatedReason_NotFound})
			}
		}
		if ce := s.log.Check(zap.DebugLevel, "dead letter"); ce != nil {
			ce.Write(zap.String("actor", pidID(e.PID)), zap.String("message", typeName(e.Message)))
		}
	}
}

func pidID(p *pa.PID) string {
	if p == nil {
		return ""
	}
	return p.Id
}

// dispatcher runs mailboxes on goroutines counted by a group, so that
// Close can wait for the last one to return. A goroutine whose mailbox ran
// empty lingers for linger to take the next mailbox that needs one: a new
// goroutine would first grow its stack (protoactor's receive path is
// deeper than the initial 2 KiB), which costs more than the message.
type dispatcher struct {
	g    *group
	idle chan func()   // unbuffered: a send succeeds only to a lingering worker
	quit chan struct{} // closed by Close: lingering workers exit at once
}

// linger is how long an idle mailbox goroutine waits for more work before
// it exits.
const linger = 500 * time.Microsecond

func newDispatcher(g *group) *dispatcher {
	return &dispatcher{g: g, idle: make(chan func()), quit: make(chan struct{})}
}

func (d *dispatcher) Schedule(fn func()) {
	select {
	case d.idle <- fn:
	default:
		d.g.add()
		go d.work(fn)
	}
}

func (d *dispatcher) work(fn func()) {
	defer d.g.done()
	var t *time.Timer
	for {
		fn()
		if t == nil {
			t = time.NewTimer(linger)
		} else {
			t.Reset(linger)
		}
		select {
		case fn = <-d.idle:
		case <-t.C:
			return
		case <-d.quit:
			t.Stop()
			return
		}
	}
}

func (d *dispatcher) Throughput() int { return throughput }

// group counts running goroutines and pending timers. Unlike a
// sync.WaitGroup it may be added to while someone waits, which happens when
// a message reaches a mailbox during Close.
type group struct {
	n    atomic.Int64
	mu   sync.Mutex
	idle chan struct{} // closed when n reaches zero; nil when nobody waits
}

func (g *group) add() { g.n.Add(1) }

func (g *group) done() {
	if g.n.Add(-1) == 0 {
		g.mu.Lock()
		if g.idle != nil {
			close(g.idle)
			g.idle = nil
		}
		g.mu.Unlock()
	}
}

func (g *group) wait() {
	for {
		g.mu.Lock()
		if g.n.Load() == 0 {
			g.mu.Unlock()
			return
		}
		if g.idle == nil {
			g.idle = make(chan struct{})
		}
		ch := g.idle
		g.mu.Unlock()
		<-ch
	}
}
