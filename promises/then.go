package promises

import (
	"context"

	"github.com/nanoact/nanoact"
)

// thenTask is both the promise Then returns and the continuation that
// computes it: one allocation per hop.
type thenTask[T, U any] struct {
	out Promise[U]
	src *Promise[T]
	f   func(T) (U, error)
}

func (t *thenTask[T, U]) owner() *Loop { return t.out.loop }

func (t *thenTask[T, U]) run() {
	src, f := t.src, t.f
	t.src, t.f = nil, nil // a long chain must not keep its head alive
	if src.status.Load() != fulfilled {
		t.out.reject(src.err)
		return
	}
	defer t.out.recoverAs("promises: then")
	v, err := f(src.val)
	t.out.settle(v, err)
}

// invalid returns a promise rejected with ErrInvalid for a nil argument,
// on p's loop if p is not nil.
func invalid[U any](l *Loop, op, what string) *Promise[U] {
	return Rejected[U](l, nanoact.Errorf(nanoact.CodeInvalid, op, "%s", what))
}

// Then returns a promise fulfilled with f's value once p fulfils, or
// rejected with f's error if f returns one; if p rejects, f is skipped and
// the returned promise rejects with the same error (until a Catch further
// down the chain handles it). f runs on p's loop, after the continuations
// that were ready before p settled, never on the goroutine that settled p.
// A panic in f rejects the returned promise with an error matching
// nanoact.ErrInternal that wraps an *actor.Panic holding the value and the
// stack; the loop carries on.
//
// Then is a function because a method cannot introduce the type U; the
// method Promise.Then maps to the same type. It does not block. It costs
// one allocation (the returned promise, which carries the continuation),
// about 0.25 µs per hop in all of which 0.08 µs is loop time; see the
// package documentation. A nil p or f gives a promise rejected with
// ErrInvalid.
func Then[T, U any](p *Promise[T], f func(T) (U, error)) *Promise[U] {
	if p == nil || f == nil {
		return invalid[U](loopOf(p), "promises: then", "nil promise or function")
	}
	l := p.loop
	t := &thenTask[T, U]{src: p, f: f}
	p.chain(l, &t.out.state, t)
	return &t.out
}

// Then is the package function Then for a continuation that keeps the
// type, so that chains read left to right: p.Then(f).Catch(g).Finally(h).
func (p *Promise[T]) Then(f func(T) (T, error)) *Promise[T] {
	return Then(p, f)
}

type catchTask[T any] struct {
	out Promise[T]
	src *Promise[T]
	f   func(error) (T, error)
}

func (t *catchTask[T]) owner() *Loop { return t.out.loop }

func (t *catchTask[T]) run() {
	src, f := t.src, t.f
	t.src, t.f = nil, nil
	if src.status.Load() == fulfilled {
		t.out.resolve(src.val)
		return
	}
	defer t.out.recoverAs("promises: catch")
	v, err := f(src.err)
	t.out.settle(v, err)
}

// Catch returns a promise that handles p's rejection: if p rejects, f runs
// on p's loop with the error and its result settles the returned promise
// (a nil error recovers, an error rejects again); if p fulfils, f is
// skipped and the returned promise fulfils with the same value. Match the
// error with errors.Is and errors.As. Panics, cost and blocking are as for
// Then.
func (p *Promise[T]) Catch(f func(error) (T, error)) *Promise[T] {
	if p == nil || f == nil {
		return invalid[T](loopOf(p), "promises: catch", "nil promise or function")
	}
	l := p.loop
	t := &catchTask[T]{src: p, f: f}
	p.chain(l, &t.out.state, t)
	return &t.out
}

type finallyTask[T any] struct {
	out Promise[T]
	src *Promise[T]
	f   func()
}

func (t *finallyTask[T]) owner() *Loop { return t.out.loop }

func (t *finallyTask[T]) run() {
	src, f := t.src, t.f
	t.src, t.f = nil, nil
	defer t.out.recoverAs("promises: finally")
	f()
	t.out.settleFrom(src)
}

// Finally returns a promise with p's outcome, settled after f has run on
// p's loop; f runs whether p fulfils or rejects, to release what the
// operation held. If f panics, the returned promise rejects with an error
// matching nanoact.ErrInternal (wrapping an *actor.Panic) instead. Cost and
// blocking are as for Then.
func (p *Promise[T]) Finally(f func()) *Promise[T] {
	if p == nil || f == nil {
		return invalid[T](loopOf(p), "promises: finally", "nil promise or function")
	}
	l := p.loop
	t := &finallyTask[T]{src: p, f: f}
	p.chain(l, &t.out.state, t)
	return &t.out
}

// passTask gives out the outcome of src: WithContext and ThenPromise use
// it.
type passTask[T any] struct {
	out *Promise[T]
	src *Promise[T]
}

func (t *passTask[T]) owner() *Loop { return t.out.loop }

func (t *passTask[T]) run() {
	src := t.src
	t.src = nil
	t.out.settleFrom(src)
}

type bindTask[T, U any] struct {
	out Promise[U]
	src *Promise[T]
	f   func(T) (*Promise[U], error)
}

func (t *bindTask[T, U]) owner() *Loop { return t.out.loop }

func (t *bindTask[T, U]) run() {
	src, f := t.src, t.f
	t.src, t.f = nil, nil
	if src.status.Load() != fulfilled {
		t.out.reject(src.err)
		return
	}
	defer t.out.recoverAs("promises: then promise")
	inner, err := f(src.val)
	switch {
	case err != nil:
		t.out.reject(err)
	case inner == nil:
		t.out.reject(nanoact.Errorf(nanoact.CodeInvalid, "promises: then promise", "nil promise"))
	default:
		inner.react(&passTask[U]{out: &t.out, src: inner})
	}
}

// ThenPromise is Then for a continuation that starts another asynchronous
// operation: f returns a promise (for example one made by NewResolver for
// an aio), and the returned promise takes that promise's outcome when it
// settles. A nil promise from f with a nil error rejects with ErrInvalid.
// f may return a promise of another loop; the outcome still comes back to
// p's loop. It costs Then's allocation plus one, and two hops.
func ThenPromise[T, U any](p *Promise[T], f func(T) (*Promise[U], error)) *Promise[U] {
	if p == nil || f == nil {
		return invalid[U](loopOf(p), "promises: then promise", "nil promise or function")
	}
	l := p.loop
	t := &bindTask[T, U]{src: p, f: f}
	p.chain(l, &t.out.state, t)
	return &t.out
}

// WithContext returns a promise with p's outcome, unless ctx ends first:
// then it rejects at once (from the goroutine that cancelled ctx; its
// continuations still run on the loop) with an error matching
// nanoact.ErrCanceled and context.Canceled, or nanoact.ErrTimedOut and
// context.DeadlineExceeded for a deadline. This cancels the chain that
// continues from the returned promise, not the operation behind p, which
// still settles p (nanonext's rule: giving up a wait never cancels the
// operation). The context registration is released when the returned
// promise settles. It costs three allocations and context.AfterFunc's
// registration, and no goroutine until ctx ends.
func WithContext[T any](ctx context.Context, p *Promise[T]) *Promise[T] {
	if p == nil {
		return invalid[T](nil, "promises: with context", "nil promise")
	}
	const op = "promises: with context"
	l := p.loop
	out := &Promise[T]{}
	l.mu.Lock()
	pend := out.openLocked(l)
	l.mu.Unlock()
	if !pend {
		return out
	}
	if ctx.Err() != nil {
		out.reject(nanoact.FromContext(ctx, op))
		return out
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { out.reject(nanoact.FromContext(ctx, op)) })
		var post after
		l.mu.Lock()
		live := out.pendingLocked(l, &post)
		if live {
			out.x().stop = stop
		}
		l.mu.Unlock()
		post.do(l)
		if !live {
			stop()
			return out
		}
	}
	p.react(&passTask[T]{out: out, src: p})
	return out
}

// loopOf returns p's loop, or nil for a nil p.
func loopOf[T any](p *Promise[T]) *Loop {
	if p == nil {
		return nil
	}
	return p.loop
}
