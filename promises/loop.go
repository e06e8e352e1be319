package promises

import (
	"context"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
)

// budget is how many continuations one drain message runs before the loop
// sends itself another and returns to its mailbox, so that a Stop (Close)
// is never held up by a long cascade.
const budget = 512

// Loop is an event loop: an actor that runs the continuations of its
// promises (the functions given to Then, Catch and Finally) one at a time,
// in the order they became ready, on the actor's goroutine and never on the
// goroutine that settled the promise. A continuation therefore needs no
// lock for state that only continuations of one Loop touch.
//
// A Loop costs one actor (no goroutine while idle; its mailbox goroutine
// runs only while continuations are ready, see package actor) and a queue.
// Continuations that become ready while the loop is draining join the
// same drain without another message, so a cascade of N continuations
// costs N queue pushes and about N/512 actor messages.
//
// A Loop is made by NewLoop and must be Closed, or is Default, which is
// never closed. Its methods are safe for concurrent use.
type Loop struct {
	ref       *actor.Ref
	log       *zap.Logger
	errClosed error
	closedCh  chan struct{} // closed by shutdown
	isDefault bool
	direct    bool // a Ref.Send per continuation instead of the drained queue (benchmarks)

	mu        sync.Mutex // guards the state of every promise of this loop, and the fields below
	closed    bool
	scheduled bool   // a drain message is in the mailbox or running
	q         []task // ready continuations, in order
	spare     []task // the drainer's previous batch, reused (drainer only)
	watch     *state // pending promises that must be rejected eagerly on Close
	pushed    uint64 // continuations queued

	closing atomic.Bool   // closed, readable without mu
	ran     atomic.Uint64 // continuations started
	panics  atomic.Uint64
}

// task is a continuation: it runs on its owner's loop goroutine once the
// promise it reacts to has settled.
type task interface {
	owner() *Loop
	run()
}

// drain is the message that makes the loop actor run its queue.
type drain struct{}

// Option configures NewLoop.
type Option interface{ apply(*config) }

type config struct {
	sys *actor.System
	log *zap.Logger
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithSystem sets the actor system that runs the loop's actor. The default,
// and the value used for nil, is actor.Default(). If the system is closed
// before the loop, the loop closes with it: its pending promises reject
// with ErrClosed.
func WithSystem(s *actor.System) Option {
	return optionFunc(func(c *config) { c.sys = s })
}

// WithLogger sets the loop's logger, used under the name "promises" for one
// thing only: a continuation that panicked is logged at Error with the
// panic value and stack (the promise it was computing rejects as well).
// The default, and the value used for nil, is zap.NewNop().
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) { c.log = l })
}

// NewLoop starts an event loop: it spawns one actor on the configured
// system (about 7 µs) and starts no goroutine of its own. The loop must be
// Closed. It fails with ErrClosed if the actor system is closed.
func NewLoop(opts ...Option) (*Loop, error) {
	var cfg config
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.sys == nil {
		cfg.sys = actor.Default()
	}
	if cfg.log == nil {
		cfg.log = zap.NewNop()
	}
	l := newLoop(cfg.log)
	ref, err := cfg.sys.Spawn("", (*loopActor)(l))
	if err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeOf(err), Op: "promises: new loop", Err: err}
	}
	l.ref = ref
	return l, nil
}

func newLoop(log *zap.Logger) *Loop {
	return &Loop{
		log:       log.Named("promises"),
		errClosed: &nanoact.Error{Code: nanoact.CodeClosed, Op: "promises: loop closed"},
		closedCh:  make(chan struct{}),
	}
}

var (
	defaultOnce sync.Once
	defaultLoop *Loop
)

// Default returns the process-wide loop, started on first use on
// actor.Default() (about 4 ms the first time if that system is not running
// yet). It is never closed: Close returns ErrInvalid. Like every loop it has
// no goroutine while idle, so test suites need no goleak exception for it.
func Default() *Loop {
	defaultOnce.Do(func() {
		l, err := NewLoop()
		if err != nil {
			// actor.Default is never closed by library code; if a
			// program closed it anyway, every promise rejects.
			l = newLoop(zap.NewNop())
			l.shutdown()
		}
		l.isDefault = true
		defaultLoop = l
	})
	return defaultLoop
}

// orDefault returns l, or Default for nil.
func orDefault(l *Loop) *Loop {
	if l == nil {
		return Default()
	}
	return l
}

// Close stops the loop. Continuations that are ready but have not run are
// dropped and never run; every promise of the loop that is still pending
// rejects with an error matching nanoact.ErrClosed, and so does every
// promise made on it later; resolving a promise after Close has no effect.
// Close blocks until a continuation that is running has returned and the
// loop's actor has stopped. It returns ErrClosed if the loop was already
// closed (by Close, or because its actor system was), and ErrInvalid for
// Default, which is never closed.
//
// Never call Close from a continuation of the same loop: it would wait for
// itself.
func (l *Loop) Close() error {
	if l.isDefault {
		return nanoact.Errorf(nanoact.CodeInvalid, "promises: close", "the default loop is never closed")
	}
	if !l.shutdown() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "promises: close"}
	}
	if err := l.ref.Stop(context.Background()); err != nil {
		return err
	}
	return nil
}

// shutdown marks the loop closed, drops its queue and rejects the promises
// that are watched (Done was called on them, or a continuation on another
// loop waits for them). The others reject lazily when they are next looked
// at. It reports false if the loop was already closed.
func (l *Loop) shutdown() bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.closed = true
	l.closing.Store(true)
	clear(l.q)
	l.q = nil
	var post after
	for l.watch != nil {
		s := l.watch
		l.settleLocked(s, rejected, l.errClosed, &post)
	}
	l.mu.Unlock()
	close(l.closedCh)
	post.do(l)
	return true
}

// Stats is a snapshot of a loop's counters.
type Stats struct {
	// Queued is the number of continuations that are ready and have not
	// started yet; zero once the loop is closed, which drops them.
	Queued int
	// Run is the number of continuations the loop has started (one may be
	// running), counting those that only passed a result on (a Then
	// skipped because its promise rejected, a Catch skipped because it
	// fulfilled) and the internal ones of All, Race, WithContext and the
	// like.
	Run uint64
	// Panics is the number of panics recovered from continuations (and
	// from the functions given to New); each rejected the promise being
	// computed.
	Panics uint64
}

// Stats returns the loop's counters. It takes the loop's lock briefly.
func (l *Loop) Stats() Stats {
	l.mu.Lock()
	ran := l.ran.Load()
	var q uint64
	if !l.closed {
		q = l.pushed - ran
	}
	l.mu.Unlock()
	return Stats{Queued: int(q), Run: ran, Panics: l.panics.Load()}
}

// Done returns a channel that is closed when the loop closes.
func (l *Loop) Done() <-chan struct{} { return l.closedCh }

// pushLocked queues t on l, which must be locked, and reports in post
// whether the loop needs a drain message. On a closed loop t is dropped:
// the promise it would have computed has been, or will lazily be,
// rejected with ErrClosed.
func (l *Loop) pushLocked(t task, post *after) {
	if l.closed {
		return
	}
	l.pushed++
	if l.direct {
		l.ref.Send(t)
		return
	}
	l.q = append(l.q, t)
	if !l.scheduled {
		l.scheduled = true
		post.kick = true
	}
}

// push queues t on l, which must not be locked.
func (l *Loop) push(t task) {
	var post after
	l.mu.Lock()
	l.pushLocked(t, &post)
	l.mu.Unlock()
	post.do(l)
}

// after holds what a settlement leaves to do once the loop's lock is
// released: wake the loop, hand continuations to other loops, and release
// a context registration.
type after struct {
	kick    bool
	foreign []task
	stops   []func() bool
}

func (a *after) do(l *Loop) {
	if a.kick {
		l.ref.Send(drain{})
	}
	for _, stop := range a.stops {
		stop()
	}
	for _, t := range a.foreign {
		t.owner().push(t)
	}
}

// loopActor is the Receiver of a Loop's actor, kept apart so that Loop
// exports no Receive method.
type loopActor Loop

func (a *loopActor) Receive(c *actor.Context) {
	l := (*Loop)(a)
	switch m := c.Message().(type) {
	case drain:
		l.drain(c.Self())
	case task:
		if l.closing.Load() {
			return
		}
		l.ran.Add(1)
		m.run()
	case actor.Started:
		// After a restart (which only an internal fault could cause) a
		// drain message may have been lost with the failed one.
		l.mu.Lock()
		kick := len(l.q) > 0 && !l.closed
		l.scheduled = kick
		l.mu.Unlock()
		if kick {
			c.Self().Send(drain{})
		}
	case actor.Stopped:
		// Close stops the actor after shutdown; a closing actor system
		// stops it without, and then this closes the loop.
		l.shutdown()
	}
}

// drain runs ready continuations in order until the queue is empty, the
// loop closes, or budget continuations have run; in the last case it sends
// itself another drain message so that the mailbox can handle a Stop
// between the two.
func (l *Loop) drain(self *actor.Ref) {
	n := 0
	for {
		l.mu.Lock()
		if l.closed || len(l.q) == 0 {
			l.scheduled = false
			l.mu.Unlock()
			return
		}
		batch := l.q
		l.q = l.spare[:0]
		l.mu.Unlock()
		for i, t := range batch {
			if l.closing.Load() {
				clear(batch[i:])
				return
			}
			batch[i] = nil
			l.ran.Add(1)
			t.run()
		}
		if cap(batch) <= 4096 {
			l.spare = batch[:0]
		} else {
			l.spare = nil // let a burst's big buffer go
		}
		if n += len(batch); n >= budget {
			self.Send(drain{})
			return
		}
	}
}

// panicked records a panic recovered from a continuation and returns the
// error its promise rejects with: ErrInternal wrapping an *actor.Panic with
// the value and the stack.
func (l *Loop) panicked(op string, v any) error {
	p := &actor.Panic{Value: v, Stack: debug.Stack()}
	l.panics.Add(1)
	l.log.Error("continuation panicked", zap.String("op", op), zap.Any("panic", v), zap.ByteString("stack", p.Stack))
	return &nanoact.Error{Code: nanoact.CodeInternal, Op: op, Err: p}
}
