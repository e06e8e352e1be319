package promises

import (
	"context"
	"sync/atomic"

	"github.com/nanoact/nanoact"
)

// The states of a promise.
const (
	pending uint32 = iota
	fulfilled
	rejected
)

// Promise is the eventual result of an operation: pending at first, then
// fulfilled with a value of type T or rejected with an error, once, and
// never changed after. Continuations attached with Then, Catch and Finally
// run on the promise's Loop; Await, Done and Result let any goroutine wait
// for or read the outcome.
//
// A Promise is made only by the functions of this package (New,
// NewResolver, Resolved, Rejected, Then, …); its zero value is not usable.
// It costs one allocation of 56 bytes plus T, and no goroutine. Its
// methods are safe for concurrent use.
type Promise[T any] struct {
	state
	val T // written once, under the loop's lock, before status leaves pending
}

// state is the part of a promise that does not depend on T. Its fields are
// guarded by the loop's lock, except status, which is also read atomically:
// once it is not pending, err and the promise's value never change.
type state struct {
	loop   *Loop
	status atomic.Uint32
	err    error
	first  task   // the first reaction while pending
	ext    *extra // the rarer parts, allocated on demand
}

type extra struct {
	more       []task        // reactions after the first
	done       chan struct{} // made by Done or Await, closed when settled
	stop       func() bool   // releases WithContext's context registration
	watched    bool          // in the loop's watch list
	prev, next *state        // the watch list
}

// closedChan is returned by Done for a promise that has settled.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (s *state) x() *extra {
	if s.ext == nil {
		s.ext = &extra{}
	}
	return s.ext
}

// open readies s, a new promise, on l: on a closed loop it is born rejected
// with ErrClosed. It reports whether s is pending. l must be locked.
func (s *state) openLocked(l *Loop) bool {
	s.loop = l
	if l.closed {
		s.err = l.errClosed
		s.status.Store(rejected)
		return false
	}
	return true
}

// settleLocked records the outcome of s, which must be pending, and hands
// its reactions to their loops: those of l, which must be locked and is
// s's loop, are queued at once, the others are left in post to be pushed
// once the lock is released. The value, if any, must be written already.
func (l *Loop) settleLocked(s *state, st uint32, err error, post *after) {
	s.err = err
	s.status.Store(st)
	t := s.first
	s.first = nil
	if t != nil {
		l.dispatchLocked(t, post)
	}
	x := s.ext
	if x == nil {
		return
	}
	for i, t := range x.more {
		x.more[i] = nil
		l.dispatchLocked(t, post)
	}
	x.more = nil
	if x.done != nil {
		close(x.done)
	}
	if x.stop != nil {
		post.stops = append(post.stops, x.stop)
		x.stop = nil
	}
	if x.watched {
		l.unwatchLocked(s)
	}
}

func (l *Loop) dispatchLocked(t task, post *after) {
	if o := t.owner(); o != l {
		post.foreign = append(post.foreign, t)
		return
	}
	l.pushLocked(t, post)
}

// watchLocked puts s, pending, in l's watch list, so that Close rejects it
// at once rather than when it is next looked at.
func (l *Loop) watchLocked(s *state) {
	x := s.x()
	if x.watched {
		return
	}
	x.watched = true
	x.prev, x.next = nil, l.watch
	if l.watch != nil {
		l.watch.ext.prev = s
	}
	l.watch = s
}

func (l *Loop) unwatchLocked(s *state) {
	x := s.ext
	if x.prev != nil {
		x.prev.ext.next = x.next
	} else {
		l.watch = x.next
	}
	if x.next != nil {
		x.next.ext.prev = x.prev
	}
	x.prev, x.next, x.watched = nil, nil, false
}

// pendingLocked reports whether s is pending. A pending promise of a closed
// loop is rejected with ErrClosed now: this is how the promises that Close
// did not reject eagerly learn of it. l must be locked.
func (s *state) pendingLocked(l *Loop, post *after) bool {
	if s.status.Load() != pending {
		return false
	}
	if l.closed {
		l.settleLocked(s, rejected, l.errClosed, post)
		return false
	}
	return true
}

// reject settles s with err unless it has settled already. A nil err is
// replaced by an ErrInvalid, so that a rejection never reads as success.
func (s *state) reject(err error) {
	if err == nil {
		err = nanoact.Errorf(nanoact.CodeInvalid, "promises: reject", "nil error")
	}
	l := s.loop
	var post after
	l.mu.Lock()
	if s.pendingLocked(l, &post) {
		l.settleLocked(s, rejected, err, &post)
	}
	l.mu.Unlock()
	post.do(l)
}

// resolve fulfils p with v unless it has settled already.
func (p *Promise[T]) resolve(v T) {
	l := p.loop
	var post after
	l.mu.Lock()
	if p.pendingLocked(l, &post) {
		p.val = v
		l.settleLocked(&p.state, fulfilled, nil, &post)
	}
	l.mu.Unlock()
	post.do(l)
}

// settle fulfils p with v if err is nil, or else rejects it with err.
func (p *Promise[T]) settle(v T, err error) {
	if err != nil {
		p.reject(err)
		return
	}
	p.resolve(v)
}

// settleFrom gives p the outcome of src, which has settled.
func (p *Promise[T]) settleFrom(src *Promise[T]) {
	if src.status.Load() == fulfilled {
		p.resolve(src.val)
		return
	}
	p.reject(src.err)
}

// react arranges for t to run on its owner loop once s has settled: now if
// it has, else when it does.
func (s *state) react(t task) {
	l := s.loop
	var post after
	l.mu.Lock()
	s.reactLocked(l, t, &post)
	l.mu.Unlock()
	post.do(l)
}

// chain opens out, the promise that t settles, on loop l (s's loop) and
// arranges for t to run once s has settled. On a closed loop out is left
// rejected with ErrClosed and t never runs.
func (s *state) chain(l *Loop, out *state, t task) {
	var post after
	l.mu.Lock()
	if out.openLocked(l) {
		s.reactLocked(l, t, &post)
	}
	l.mu.Unlock()
	post.do(l)
}

func (s *state) reactLocked(l *Loop, t task, post *after) {
	if !s.pendingLocked(l, post) {
		l.dispatchLocked(t, post)
		return
	}
	if t.owner() != l {
		// The other loop must hear of it if this one closes.
		l.watchLocked(s)
	}
	if s.first == nil && (s.ext == nil || len(s.ext.more) == 0) {
		s.first = t
		return
	}
	x := s.x()
	x.more = append(x.more, t)
}

// recoverAs, deferred in a continuation, turns a panic into the rejection
// of s.
func (s *state) recoverAs(op string) {
	if v := recover(); v != nil {
		s.reject(s.loop.panicked(op, v))
	}
}

// NewResolver returns a pending promise on l (Default if l is nil) and the
// two functions that settle it. Call either from any goroutine, any number
// of times: the first call settles the promise and the others do nothing.
// A nil error given to reject is replaced by one matching ErrInvalid. The
// continuations of the promise run on l, never on the caller of resolve or
// reject, which return at once.
//
// This is the adapter for any completion source: an aio, a callback API or
// a goroutine's result becomes a promise with one call to NewResolver and
// one call to resolve or reject on completion. It costs three allocations
// (the promise and the two functions), about 100 ns. If l is closed, the
// promise is born rejected with ErrClosed.
func NewResolver[T any](l *Loop) (p *Promise[T], resolve func(T), reject func(error)) {
	l = orDefault(l)
	p = &Promise[T]{}
	l.mu.Lock()
	p.openLocked(l)
	l.mu.Unlock()
	return p, p.resolve, p.reject
}

// New returns a promise on l (Default if l is nil) settled by fn, which is
// called at once on the caller's goroutine with the promise's resolve and
// reject functions, as in JavaScript. fn may keep them and call one later
// from any goroutine; see NewResolver. A panic in fn rejects the promise
// with an error matching nanoact.ErrInternal that wraps an *actor.Panic; a
// nil fn rejects it with ErrInvalid.
func New[T any](l *Loop, fn func(resolve func(T), reject func(error))) (p *Promise[T]) {
	p, resolve, reject := NewResolver[T](l)
	if fn == nil {
		reject(nanoact.Errorf(nanoact.CodeInvalid, "promises: new", "nil function"))
		return p
	}
	defer p.recoverAs("promises: new")
	fn(resolve, reject)
	return p
}

// Resolved returns a promise on l (Default if l is nil) fulfilled with v:
// one allocation, no loop round trip. On a closed loop it is rejected with
// ErrClosed.
func Resolved[T any](l *Loop, v T) *Promise[T] {
	l = orDefault(l)
	p := &Promise[T]{}
	l.mu.Lock()
	if p.openLocked(l) {
		p.val = v
		p.status.Store(fulfilled)
	}
	l.mu.Unlock()
	return p
}

// Rejected returns a promise on l (Default if l is nil) rejected with err
// (ErrInvalid if err is nil).
func Rejected[T any](l *Loop, err error) *Promise[T] {
	if err == nil {
		err = nanoact.Errorf(nanoact.CodeInvalid, "promises: rejected", "nil error")
	}
	l = orDefault(l)
	p := &Promise[T]{}
	l.mu.Lock()
	if p.openLocked(l) {
		p.err = err
		p.status.Store(rejected)
	}
	l.mu.Unlock()
	return p
}

// Loop returns the loop that runs the promise's continuations (nil for a
// nil p).
func (p *Promise[T]) Loop() *Loop { return loopOf(p) }

// Done returns a channel that is closed when the promise settles (or its
// loop closes, which rejects it). It does not block; the first call on a
// pending promise allocates the channel, and the loop then keeps the
// promise until it settles or the loop closes. Use it to select on a
// promise beside other events; read the outcome with Result afterwards.
func (p *Promise[T]) Done() <-chan struct{} {
	if p == nil || p.status.Load() != pending {
		return closedChan
	}
	return p.doneChan(true)
}

// doneChan returns the channel closed when p settles, making it if needed,
// and with watch puts p in the loop's watch list so that Close closes it.
func (p *Promise[T]) doneChan(watch bool) <-chan struct{} {
	l := p.loop
	var post after
	l.mu.Lock()
	if !p.pendingLocked(l, &post) {
		l.mu.Unlock()
		post.do(l)
		return closedChan
	}
	x := p.x()
	if x.done == nil {
		x.done = make(chan struct{})
	}
	if watch {
		l.watchLocked(&p.state)
	}
	l.mu.Unlock()
	return x.done
}

// Result returns the outcome of a settled promise: its value and nil, or
// the zero T and the rejection error. It never blocks. On a pending
// promise it returns the zero T and an error matching nanoact.ErrTryAgain;
// on a pending promise of a closed loop, ErrClosed (the promise is
// rejected). A nil p gives ErrInvalid.
func (p *Promise[T]) Result() (T, error) {
	if p == nil {
		var zero T
		return zero, nilPromise("promises: result")
	}
	if p.status.Load() == pending {
		l := p.loop
		var post after
		l.mu.Lock()
		still := p.pendingLocked(l, &post)
		l.mu.Unlock()
		post.do(l)
		if still {
			var zero T
			return zero, &nanoact.Error{Code: nanoact.CodeTryAgain, Op: "promises: result"}
		}
	}
	return p.outcome()
}

func (p *Promise[T]) outcome() (T, error) {
	if p.status.Load() == fulfilled {
		return p.val, nil
	}
	var zero T
	return zero, p.err
}

// Await blocks until the promise settles, its loop closes (ErrClosed) or
// ctx ends, and returns its value and nil or the zero T and the rejection
// error. If ctx ends first it returns an error matching nanoact.ErrTimedOut
// and context.DeadlineExceeded for a deadline, or nanoact.ErrCanceled and
// context.Canceled for a cancel; ending ctx abandons the wait only, and
// the promise still settles. A settled promise returns at once without
// allocating; waiting for a pending one costs two (its channel). A nil p
// gives ErrInvalid.
//
// Never Await, from a continuation, a pending promise of the same loop:
// the loop cannot settle it while it waits, so Await returns only when ctx
// ends.
func (p *Promise[T]) Await(ctx context.Context) (T, error) {
	if p == nil {
		var zero T
		return zero, nilPromise("promises: await")
	}
	if p.status.Load() == pending {
		select {
		case <-p.doneChan(false):
		case <-p.loop.closedCh:
			return p.Result()
		case <-ctx.Done():
			if p.status.Load() == pending {
				var zero T
				return zero, nanoact.FromContext(ctx, "promises: await")
			}
		}
	}
	return p.outcome()
}

func nilPromise(op string) error {
	return nanoact.Errorf(nanoact.CodeInvalid, op, "nil promise")
}
