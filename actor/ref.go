package actor

import (
	"context"
	"reflect"
	"sync"

	pa "github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// Ref is a handle to one actor process: the address other goroutines and
// actors send to. It stays valid after the actor stops; sends then go
// nowhere and requests fail with ErrClosed. A Ref is made only by Spawn;
// compare Refs with ==. Its methods are safe for concurrent use.
//
// A restarted actor keeps its Ref: restart replaces the state of the
// Receiver, not the process.
type Ref struct {
	sys      *System
	pid      *pa.PID
	parent   *Ref
	done     chan struct{}
	strategy Strategy // how this actor supervises its children
	recv     Receiver

	mu       sync.Mutex // orders stopping against Restart sends
	stopping bool

	// Owned by the actor's goroutine.
	pc       pa.Context // the same protoactor context for every incarnation
	cx       Context
	children map[string]*Ref
	log      *zap.Logger
	stopped  bool
}

// String returns the actor's id, for logs: "$3" for a generated top-level
// name, "parent/child" for a child.
func (r *Ref) String() string {
	if r == nil {
		return "<nil>"
	}
	return r.pid.Id
}

// Done returns a channel that is closed once the actor has stopped (after
// its Receiver saw Stopped and all its children had stopped). It does not
// block and costs nothing.
func (r *Ref) Done() <-chan struct{} { return r.done }

// Send delivers msg to the actor's mailbox and returns at once; it never
// blocks. Messages from one goroutine arrive in the order sent. A message
// to a stopped actor is dropped (and logged at Debug as a dead letter). The
// actor reads msg concurrently with the sender, so do not modify msg after
// Send. About 0.1 µs, with no allocation besides boxing msg.
func (r *Ref) Send(msg any) {
	if r == nil {
		return
	}
	r.sys.as.Root.Send(r.pid, msg)
}

// Request sends msg and blocks until the actor answers with
// Context.Respond or Context.RespondError, ctx ends, or the actor stops.
// About 1.4 µs per round trip and one allocation: the answer comes back
// through a recycled one-slot channel, not a protoactor future (about 3.7
// µs and 10 allocations).
//
// If Receive returns without responding, Request fails at once with
// ErrNotSupported; if Receive panics, with ErrInternal wrapping a *Panic.
// If the actor is stopped, or stops before answering, Request returns
// ErrClosed. If ctx ends first, it returns an *nanoact.Error that wraps
// ctx.Err() (ErrTimedOut for a deadline, ErrCanceled for a cancel). Giving
// up the wait does not withdraw the message: the actor still handles it and
// the late answer is dropped.
//
// Never Request an actor from its own Receive, or an actor that is waiting
// for this one: the mailbox cannot run the request until the current
// message is done.
func (r *Ref) Request(ctx context.Context, msg any) (any, error) {
	if r == nil {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, "actor: request", "nil Ref")
	}
	q := r.sys.newRequest()
	q.msg = msg
	return r.ask(ctx, q, "actor: request ")
}

// Call runs fn on the actor's goroutine, in mailbox order with its other
// messages and never concurrently with its Receiver, and blocks until fn
// has returned. This is how a component serialises control operations
// (dial, listen, close) without locks. About 1.3 µs per round trip and one
// allocation.
//
// fn must not block for long: it holds up the mailbox. A panic in fn is
// handled like a panic in Receive (logged, supervised) and makes Call
// return ErrInternal wrapping a *Panic. If the actor has stopped, or stops
// before fn runs, Call returns ErrClosed and fn never runs. If ctx ends
// first, Call returns ErrTimedOut or ErrCanceled wrapping ctx.Err(); fn may
// still run later. Never Call an actor from its own goroutine (including
// from fn): that deadlocks until ctx ends.
func (r *Ref) Call(ctx context.Context, fn func()) error {
	if r == nil || fn == nil {
		return nanoact.Errorf(nanoact.CodeInvalid, "actor: call", "nil Ref or func")
	}
	q := r.sys.newRequest()
	q.fn = fn
	_, err := r.ask(ctx, q, "actor: call ")
	return err
}

// ask sends q and waits for its answer. q is recycled only when its answer
// has been taken from the channel: then nobody else holds it (an actor
// answers once and drops it; a dead letter is answered instead of
// delivered). On the other paths a late answer may still come, so q is
// left to the garbage collector.
func (r *Ref) ask(ctx context.Context, q *request, op string) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, nanoact.FromContext(ctx, op+r.pid.Id)
	}
	select {
	case <-r.done:
		return nil, closedError(op + r.pid.Id)
	default:
	}
	r.sys.as.Root.Send(r.pid, q)
	select {
	case res := <-q.reply:
		r.sys.putRequest(q)
		return res.v, res.err
	case <-r.done:
		// An answer sent before Stopped is already in the channel.
		select {
		case res := <-q.reply:
			r.sys.putRequest(q)
			return res.v, res.err
		default:
			return nil, closedError(op + r.pid.Id)
		}
	case <-ctx.Done():
		return nil, nanoact.FromContext(ctx, op+r.pid.Id)
	}
}

// RequestAs is Request with the answer converted to T. An answer of
// another type gives ErrBadType; a nil answer gives T's zero value.
func RequestAs[T any](ctx context.Context, r *Ref, msg any) (T, error) {
	var zero T
	v, err := r.Request(ctx, msg)
	if err != nil || v == nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, nanoact.Errorf(nanoact.CodeBadType, "actor: request "+r.String(),
			"answer is %T, not %v", v, reflect.TypeFor[T]())
	}
	return t, nil
}

// Stop stops the actor and blocks until it has stopped: its Receiver has
// seen Stopping and Stopped, and all its children have stopped before it.
// Messages still in its mailbox are dropped. Stopping a stopped actor
// returns nil at once. If ctx ends first, Stop returns ErrTimedOut or
// ErrCanceled wrapping ctx.Err(); the actor still stops. Spawn plus Stop of
// an idle actor without children costs about 7 µs.
//
// Never call Stop from the actor's own Receive or one of its descendants':
// use Context.Stop, which does not wait.
func (r *Ref) Stop(ctx context.Context) error {
	if r == nil {
		return nanoact.Errorf(nanoact.CodeInvalid, "actor: stop", "nil Ref")
	}
	select {
	case <-r.done:
		return nil
	default:
	}
	r.stop()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return nanoact.FromContext(ctx, "actor: stop "+r.pid.Id)
	}
}

// stop marks r as stopping, so that no supervisor restarts it any more, and
// sends it protoactor's Stop. It does not wait.
func (r *Ref) stop() {
	r.markStopping()
	r.sys.as.Root.Stop(r.pid)
}

func (r *Ref) markStopping() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
}

// restart sends Restart to r through sup unless r is stopping. protoactor
// would otherwise bring a stopping actor back to life when a Restart
// follows a Stop, and its parent would wait for it forever.
func (r *Ref) restart(sup pa.Supervisor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopping {
		sup.RestartChildren(r.pid)
	}
}

func (r *Ref) logger() *zap.Logger {
	if r.log == nil {
		r.log = r.sys.log.With(zap.String("actor", r.pid.Id))
	}
	return r.log
}

// request is what Request and Call put in a mailbox.
type request struct {
	msg   any
	fn    func() // non-nil for Call
	reply chan result
}

type result struct {
	v   any
	err error
}

func (s *System) newRequest() *request {
	if q, ok := s.reqs.Get().(*request); ok {
		return q
	}
	return &request{reply: make(chan result, 1)}
}

func (s *System) putRequest(q *request) {
	q.msg, q.fn = nil, nil
	s.reqs.Put(q)
}

// complete answers the request. Every path answers at most once (Respond
// forgets the request); the select only guards a dead letter racing a
// stop.
func (q *request) complete(v any, err error) {
	select {
	case q.reply <- result{v, err}:
	default:
	}
}

func (q *request) op(p *pa.PID) string {
	if q.fn != nil {
		return "actor: call " + pidID(p)
	}
	return "actor: request " + pidID(p)
}

func closedError(op string) error {
	return &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
}

func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflect.TypeOf(v).String()
}
