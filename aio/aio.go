package aio

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/sockets"
)

// Aio is one asynchronous send or receive: nanonext's sendAio and recvAio.
// It is pending at first and resolves exactly once, to a value of type T
// (the decoded message of a receive; struct{} for a send) or an error.
// The result is written before the aio is marked resolved and its Done
// channel closed, so every waiter, however many, sees the same result;
// later reads return it from the cache without decoding again.
//
// An Aio is made by Send, Recv, Go, NewPending and NewOwned, or embedded
// in its owner (Owned). It costs one allocation of about 64 bytes plus T
// (what only some aios need, the options, time-out, CVs, Ref's actor,
// lives out of line, made only for an aio that has them: Signal,
// Timeout, WithSystem, WithLogger, Ref and AfterFunc cost one allocation
// of about 120 bytes); a receive's carries its receive-only state (the
// protocol's wait, the decoding) beside it, about 184 bytes plus T in
// all. A receive on a Socket or Context
// waits in the protocol's queue with no goroutine (sockets.RecvOp): the
// goroutine that delivers the message, or ends the wait, resolves it. A
// send that can complete at once (room to queue the message), and any
// operation with Timeout(0), completes inside Send or Recv. A send that
// has to wait on a Socket, Context or Stream waits its turn in the
// connection's sockets.SendQueue, whose one goroutine makes the waiting
// sends in order. The rest (a receive on another Conn, any operation of
// Go, a send on another Conn) has one goroutine that calls the
// connection's blocking RecvMsg or Send and exits once the aio has
// resolved and its callbacks have run; a waiter that would block anyway
// (Value, Wait or Collect with a context that cannot end, or Stop) runs
// that operation itself if the goroutine has not started it yet, which
// saves a goroutine switch. A waiter parks on a pooled channel, and the
// waiters and callbacks of a pending aio share one pooled record, so that
// waiting costs no allocation either. No actor is
// spawned unless Ref is called. See the package doc for measured costs.
//
// Its methods are safe for concurrent use. A nil *Aio behaves as an aio
// resolved with ErrInvalid.
type Aio[T any] struct {
	core
	val T
}

// decoder turns a received message into a receive aio's value.
type decoder[T any] = func(m *sockets.Msg) (T, error)

// SendAio is the aio of a send: it resolves to struct{}{} and nil, or to
// the error of the send.
type SendAio = Aio[struct{}]

// The bits of core.st. stopped is two bits: why the operation's context
// ended (running until then).
const (
	stResolved uint32 = 1 << iota // the result is written (see core)
	stClaimed                     // the operation or resolution is claimed
	stFired                       // callbacks taken by resolve; set under mu

	stopShift = iota // stopped's two bits start here
)

// States of the stopped bits: why the operation's context ended.
const (
	running uint32 = iota
	canceled
	expired
)

// core is the part of an aio that does not depend on T. It is also the
// context the operation runs under (see opCtx), so that an aio needs no
// context.WithCancel of its own.
type core struct {
	// st packs the aio's flags in one word (a queued task keeps one aio,
	// and issue 17 bounds a queued task's memory):
	//   - resolved is set, after the result is written, when the aio
	//     resolves; the done channel (in w) is made on demand (Done, or a
	//     second waiter that must block) and closed then, so an aio nobody
	//     blocks on costs no channel;
	//   - claimed is set by whoever runs the operation on a goroutine (see
	//     opState), or resolves an owned (NewOwned, Owned) aio;
	//   - fired says resolve has taken the callbacks (set and read under
	//     mu);
	//   - stopped says why the operation was stopped (by Stop or by the
	//     timer), running until then.
	st atomic.Uint32

	// The result, written before resolved is set (a queued send keeps
	// its error here until it resolves, see sendTurn).
	pipe uint32
	err  error

	// async is what Stop and the time-out end: the *opState of an
	// operation run on a goroutine, or an asyncOp (the aio itself while
	// its receive waits in the protocol's queue, with no goroutine; an
	// owned aio's owner); nil if none. Set before the aio is shared.
	async any

	// x holds what few aios need (the rarer options, the time-out, the
	// CVs, Ref's actor, AfterFunc's functions); nil if none. Made before
	// the aio is shared, or later under mu (see extra).
	x atomic.Pointer[extra]

	mu sync.Mutex
	w  *waiters // guarded by mu; nil until a waiter or callback needs it
}

// resolved reports whether the aio has resolved (its result written).
func (c *core) resolved() bool { return c.st.Load()&stResolved != 0 }

// markResolved sets resolved, after the result is written.
func (c *core) markResolved() { c.st.Or(stResolved) }

// claim sets claimed and reports whether this call did.
func (c *core) claim() bool { return c.st.Or(stClaimed)&stClaimed == 0 }

// claimed reports whether the aio was claimed.
func (c *core) claimed() bool { return c.st.Load()&stClaimed != 0 }

// fired reports whether resolve took the callbacks; call it under mu.
func (c *core) fired() bool { return c.st.Load()&stFired != 0 }

// stopped says why the operation's context ended: running until then.
func (c *core) stopped() uint32 { return c.st.Load() >> stopShift & 3 }

// stop sets stopped to why, if it is running and, with pending, the aio
// has not resolved; it reports whether this call did.
func (c *core) stop(why uint32, pending bool) bool {
	for {
		old := c.st.Load()
		if old>>stopShift&3 != running || pending && old&stResolved != 0 {
			return false
		}
		if c.st.CompareAndSwap(old, old|why<<stopShift) {
			return true
		}
	}
}

// opState returns the operation run on a goroutine, nil if none.
func (c *core) opState() *opState {
	o, _ := c.async.(*opState)
	return o
}

// opState is the operation of an aio that has to wait on a goroutine:
// its own, or a waiter's that gets there first (help); whichever claims
// the aio runs runOp once. Only such aios have one, so that an aio that
// completes at once, or waits in the protocol's queue, stays small.
type opState struct {
	// stop is the operation's context's Done channel, closed by end.
	stop   chan struct{}
	isSend bool
	owned  bool // msg was built by Send: free it on failure
	toPipe uint32
	con    sockets.Conn
	msg    *sockets.Msg
	// queue sends a message staged on a req, rep or respondent
	// connection (sockets.Stager); nil for other sends.
	queue func(context.Context) error
	fn    any // Go's function, a func(context.Context) (T, error)
	rx    any // a receive's *recvAio[T]

	// A send that waits its turn in its connection's queue (sq; nil for
	// other operations): self is its aio, turn its place in the queue.
	sq   *sockets.SendQueue
	self *SendAio
	turn sockets.QueuedSend
}

// extra holds what few aios need, out of line so that the others stay
// small (a task runner keeps one aio per queued task).
type extra struct {
	// Set before the aio is shared, never changed after:
	cv       *CV // the first Signal
	cvs      []*CV
	sys      *actor.System
	log      *zap.Logger
	deadline time.Time   // Timeout(d > 0)
	timer    *time.Timer // Timeout(d > 0)
	forever  bool        // Timeout(d < 0)

	// Added later, guarded by mu:
	afters []*afterFunc // AfterFunc registrations on the operation's context
	ref    *actor.Ref   // the aio's actor, once Ref was called
}

// extra returns c's extra, made if c has none: before the aio is shared,
// or under mu (x is read without the lock, as an atomic pointer).
func (c *core) extra() *extra {
	x := c.x.Load()
	if x == nil {
		x = &extra{}
		c.x.Store(x)
	}
	return x
}

// waiters is what the waiters and callbacks of a pending aio leave on it:
// taken from waitersPool by the first that needs one, so that an aio that
// nobody waits on carries one pointer for them, and waiting costs no
// allocation. resolve detaches it (under mu) and puts it back, or leaves
// that to the parked waiter it wakes.
type waiters struct {
	wake   chan struct{} // capacity 1: a parked waiter's, one token from resolve
	parked bool          // a waiter is parked on wake
	done   chan struct{} // Done's, and further waiters'; nil until asked for
	cbs    []any         // OnComplete callbacks, each a func(T, error)
}

// waitersPool holds spare waiters, their wake channel empty, done nil and
// cbs cleared (see release).
var waitersPool = sync.Pool{New: func() any { return &waiters{wake: make(chan struct{}, 1)} }}

// release clears w and puts it back in the pool; only its last holder
// calls it.
func (w *waiters) release() {
	clear(w.cbs)
	w.cbs, w.done, w.parked = w.cbs[:0], nil, false
	waitersPool.Put(w)
}

// waitersLocked returns c's waiters, taken from the pool if c has none;
// call it under mu, before resolve has fired.
func (c *core) waitersLocked() *waiters {
	if c.w == nil {
		c.w = waitersPool.Get().(*waiters)
	}
	return c.w
}

// closedCh is a closed channel: the Done of a nil aio.
var closedCh = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// nonBlock and forever are the contexts of a first try that must not wait
// and of an operation that ignores the connection's time-out; they are
// never changed.
var (
	nonBlock = sockets.NonBlock(context.Background())
	forever  = sockets.WithoutTimeout(context.Background())
)

func newAio[T any](opts []Option) (*Aio[T], config) {
	a := &Aio[T]{}
	return a, a.init(opts)
}

// init applies opts to a new aio (one made by newAio, or embedded in a
// recvAio) and returns them.
func (a *Aio[T]) init(opts []Option) config {
	cfg := config{mode: sockets.Serial}
	for _, o := range opts {
		applyOption(o, &cfg)
	}
	if cfg.cv != nil || cfg.sys != nil || cfg.log != nil {
		a.x.Store(&extra{cv: cfg.cv, cvs: cfg.cvs, sys: cfg.sys, log: cfg.log})
	}
	return cfg
}

// start readies the operation's context before its goroutine starts (op,
// whose stop channel is made here) and, for a time-out, the deadline and
// its timer or the flag that ignores the connection's time-out. A
// NewOwned aio has no op: only the timer.
func (c *core) start(cfg *config, op *opState) {
	if op != nil {
		op.stop = make(chan struct{})
		c.async = op
	}
	if !cfg.hasTimeout || cfg.timeout == 0 {
		return
	}
	x := c.extra()
	if cfg.timeout < 0 {
		x.forever = true
		return
	}
	x.deadline = time.Now().Add(cfg.timeout)
	// Armed only once stored: its function may resolve the aio, which
	// reads the field.
	x.timer = time.AfterFunc(time.Duration(math.MaxInt64), c.expire)
	x.timer.Reset(cfg.timeout)
}

// cancel ends the operation's context with context.Canceled, unless it has
// ended already. It does not wait.
func (c *core) cancel() { c.end(canceled) }

// expire ends the operation's context with context.DeadlineExceeded; it is
// the timer's function.
func (c *core) expire() { c.end(expired) }

func (c *core) end(why uint32) {
	var o *opState
	switch h := c.async.(type) {
	case nil:
		return
	case *opState:
		o = h
	case asyncOp: // a receive queued in the protocol, or an owned aio
		if c.stop(why, true) {
			h.cancelAsync(why)
		}
		return
	}
	// Under mu, so that AfterFunc never sees the state set before stop is
	// closed (its function reads Err).
	c.mu.Lock()
	if !c.stop(why, false) {
		c.mu.Unlock()
		return
	}
	close(o.stop)
	var fs []*afterFunc
	if x := c.x.Load(); x != nil {
		fs, x.afters = x.afters, nil
	}
	c.mu.Unlock()
	for _, f := range fs {
		go f.fn() // as context.AfterFunc: each in its own goroutine
	}
	if o.sq != nil {
		c.leaveQueue(why)
	}
}

// leaveQueue resolves a send stopped (why) while it waits its turn,
// taking it out of the queue, unless its turn has come: the sends behind
// it then go on in order, and it is never sent.
func (c *core) leaveQueue(why uint32) {
	o := c.opState()
	if !o.sq.Remove(&o.turn) || !c.claim() {
		return
	}
	o.self.resolve(struct{}{}, c.giveUpSend(why), 0)
}

// help runs the operation on the calling goroutine if its own goroutine
// has not started it yet, so that a waiter that would block until the
// aio resolves anyway does the work itself: one goroutine switch fewer,
// which is most of an aio's cost. The aio's goroutine then finds the
// operation claimed and exits. A send waiting in its connection's queue
// is helped only once its turn has come, if the queue's goroutine has not
// taken it yet (sockets.SendQueue.Help).
func (a *Aio[T]) help() {
	o := a.opState()
	if o == nil || a.claimed() {
		return
	}
	if o.sq != nil {
		o.sq.Help(&o.turn)
		return
	}
	a.runOp()
}

// runOp runs the operation unless someone has claimed it already.
func (a *Aio[T]) runOp() {
	o := a.opState()
	if !a.claim() {
		return
	}
	var v T
	if a.stopped() == canceled {
		// Stopped before it started: it never happens.
		if o.isSend {
			a.resolve(v, a.giveUpSend(canceled), 0)
			return
		}
		op := "aio: recv"
		if o.fn != nil {
			op = "aio: go"
		}
		// (Not FromContext: stop may not be closed yet.)
		a.resolve(v, &nanoact.Error{Code: nanoact.CodeCanceled, Op: op, Err: context.Canceled}, 0)
		return
	}
	if o.fn != nil {
		v, err := o.fn.(func(context.Context) (T, error))(a.opCtx())
		a.resolve(v, err, 0)
		return
	}
	if o.isSend {
		a.resolve(v, a.doSend(), 0)
		return
	}
	m, err := o.con.RecvMsg(a.opCtx())
	o.rx.(*recvAio[T]).finishRecv(m, err)
}

// resolve records the outcome, signals the CVs, wakes every waiter and
// runs the callbacks registered so far, in that order. It is called
// exactly once per aio: by the goroutine of the operation, by the one
// that completed or cancelled a receive waiting in the protocol's queue,
// or by Send or Recv when the operation completed at once.
func (a *Aio[T]) resolve(v T, err error, pipe uint32) {
	a.val, a.err, a.pipe = v, err, pipe
	x := a.x.Load()
	if x != nil && x.timer != nil {
		x.timer.Stop()
	}
	// resolved is set after the result is written, so that whoever sees
	// it reads the result; with CVs, in the same critical section as
	// their signals (see signalAll).
	if x == nil || x.cv == nil {
		a.markResolved()
	} else {
		signalAll(x.cv, x.cvs, &a.core)
	}
	a.mu.Lock()
	w := a.w
	a.w = nil
	a.st.Or(stFired)
	a.mu.Unlock()
	if w == nil {
		return
	}
	// w is detached: nobody else reaches it but a parked waiter, which
	// puts it back once woken, so everything is read from it before.
	done, cbs, parked := w.done, w.cbs, w.parked
	if done != nil {
		close(done)
	}
	if parked {
		w.done, w.cbs = nil, nil
		w.wake <- struct{}{} // buffered, and the only send: never blocks
	}
	for _, fn := range cbs {
		a.call(fn.(func(T, error)))
	}
	if !parked {
		w.release()
	}
}

// call runs one callback with the result, recovering a panic so that the
// other callbacks still run.
func (a *Aio[T]) call(fn func(T, error)) {
	defer func() {
		if r := recover(); r != nil {
			a.logger().Error("aio: callback panicked", zap.Any("panic", r), zap.Stack("stack"))
		}
	}()
	fn(a.val, a.err)
}

func (c *core) logger() *zap.Logger {
	if x := c.x.Load(); x != nil && x.log != nil {
		return x.log
	}
	return zap.NewNop()
}

// Done returns a channel that is closed once the aio has resolved; every
// call returns the same channel until then. It never blocks; the first
// call on a pending aio allocates the channel. Select on it beside other
// events, then read the outcome with Result.
func (a *Aio[T]) Done() <-chan struct{} {
	if a == nil {
		return closedCh
	}
	return a.doneChan()
}

// wait blocks until the aio resolves, as <-doneChan() does, but without
// making the done channel when it is the aio's only waiter: it parks on
// its waiters' wake channel instead (pooled, see waiters).
func (c *core) wait() {
	if c.resolved() {
		return
	}
	c.mu.Lock()
	if c.fired() {
		c.mu.Unlock()
		return
	}
	w := c.waitersLocked()
	if w.parked {
		// Another waiter is parked: share the done channel.
		if w.done == nil {
			w.done = make(chan struct{})
		}
		d := w.done
		c.mu.Unlock()
		<-d
		return
	}
	w.parked = true
	c.mu.Unlock()
	<-w.wake
	w.release() // resolve detached it and left it to this waiter
}

func (c *core) doneChan() chan struct{} {
	if c.resolved() {
		return closedCh
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fired() {
		return closedCh
	}
	w := c.waitersLocked()
	if w.done == nil {
		w.done = make(chan struct{})
	}
	return w.done
}

// Resolved reports whether the aio has resolved. It never blocks and
// costs one atomic load.
func (a *Aio[T]) Resolved() bool {
	return a == nil || a.resolved()
}

// Value blocks until the aio resolves or ctx ends, and returns its value
// and nil, or the zero T and the error it resolved to (nanonext's $data and
// $result, and call_aio). The result is cached: every call returns the
// same value, decoded once. With a ctx that cannot end (ctx.Done() is nil,
// as for context.Background()), Value runs the operation itself if the
// aio's goroutine has not started it yet.
//
// If ctx ends first, Value returns an error matching nanoact.ErrTimedOut
// and context.DeadlineExceeded (a deadline) or nanoact.ErrCanceled and
// context.Canceled (a cancel). Ending ctx abandons the wait only: the
// operation goes on and the aio still resolves (use Stop to cancel it).
// An aio that has resolved returns at once, even with a ctx that has
// ended.
func (a *Aio[T]) Value(ctx context.Context) (T, error) {
	if a == nil {
		var zero T
		return zero, errNilAio
	}
	if a.resolved() {
		return a.val, a.err
	}
	done := ctx.Done()
	if done == nil {
		// This wait cannot be abandoned: do the work here if nobody
		// has started it.
		a.help()
		a.wait()
		return a.val, a.err
	}
	select {
	case <-a.doneChan():
		return a.val, a.err
	case <-done:
		if a.resolved() {
			return a.val, a.err
		}
		var zero T
		return zero, nanoact.FromContext(ctx, "aio: wait")
	}
}

// Result returns the outcome of a resolved aio without blocking: its value
// and nil, or the zero T and the error it resolved to. On an aio still
// pending it returns the zero T and an error matching nanoact.ErrTryAgain
// (nanonext's 'unresolved' value); an aio never resolves to ErrTryAgain
// itself, so the two cannot be confused.
func (a *Aio[T]) Result() (T, error) {
	if a == nil {
		var zero T
		return zero, errNilAio
	}
	if a.resolved() {
		return a.val, a.err
	}
	var zero T
	return zero, &nanoact.Error{Code: nanoact.CodeTryAgain, Op: "aio: result", Err: errUnresolved}
}

// Pipe returns the id of the pipe (connection) the received message came
// on, as nanonext's recvAio$aio after resolution: for a Recv that got a
// message, even one that failed to decode. It is 0 for a send, for a
// receive that failed, and while the aio is pending.
func (a *Aio[T]) Pipe() uint32 {
	if a == nil || !a.Resolved() {
		return 0
	}
	return a.pipe
}

// Stop cancels the operation and blocks until the aio has resolved
// (nanonext's stop_aio, NNG's nng_aio_stop). An aio still in flight
// resolves to an error matching nanoact.ErrCanceled (and
// context.Canceled); one that had already resolved, or that completes in
// the same instant, keeps its result. Stop is idempotent and cheap on a
// resolved aio. A cancelled send gives its message back to the caller if
// it was a *sockets.Msg, or frees it.
//
// Unlike nng_aio_stop, Stop does not wait for OnComplete callbacks that
// are running on another goroutine when it returns: Go frees nothing
// under them, and so Stop may be called from anywhere, a callback of the
// same aio included. An operation that has not started yet never does: a
// send's message is not sent, a receive takes no message, Go's function
// is not called.
func (a *Aio[T]) Stop() {
	if a == nil {
		return
	}
	a.cancel()
	a.help() // the operation, if not started, now ends at once
	a.wait()
}

// cancelOp cancels without waiting; nil-safe, for Stop over a list.
func (a *Aio[T]) cancelOp() {
	if a != nil {
		a.cancel()
	}
}

// waitOp is core.help then core.wait, nil-safe, for Wait.
func (a *Aio[T]) waitOp() {
	if a != nil {
		a.help()
		a.wait()
	}
}

// OnComplete registers fn to be called exactly once with the aio's
// outcome. If the aio is pending, fn runs when it resolves, on the
// goroutine that resolved it (the one that delivered the message, or that
// ran the operation, or that called Stop, see Aio), after the result is
// written, waiters woken and CVs signalled, and outside every lock; fn
// should return quickly, as later callbacks, and for a receive the next
// message of the connection (for a send, the next send waiting in its
// queue), wait for it. If the aio has
// resolved, fn runs at once on the caller's goroutine before OnComplete
// returns. Callbacks registered before resolution run in registration
// order. A panic in fn is recovered and logged (WithLogger); the other
// callbacks still run. A nil fn is ignored.
//
// To hand the result to an event loop instead, use Promise.
func (a *Aio[T]) OnComplete(fn func(v T, err error)) {
	if fn == nil {
		return
	}
	if a == nil {
		var zero T
		fn(zero, errNilAio)
		return
	}
	a.mu.Lock()
	if !a.fired() {
		w := a.waitersLocked()
		w.cbs = append(w.cbs, fn)
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	a.call(fn)
}

var (
	errUnresolved = errors.New("unresolved")
	errNilAio     = &nanoact.Error{Code: nanoact.CodeInvalid, Op: "aio", Err: errors.New("nil aio")}
	errNilFunc    = &nanoact.Error{Code: nanoact.CodeInvalid, Op: "aio: go", Err: errors.New("nil function")}
)

func errNilConn(op string) error {
	return &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: errors.New("nil connection")}
}
