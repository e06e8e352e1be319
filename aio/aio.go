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
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/sockets"
)

// Aio is one asynchronous send or receive: nanonext's sendAio and recvAio.
// It is pending at first and resolves exactly once, to a value of type T
// (the decoded message of a receive; struct{} for a send) or an error.
// The result is written before the aio is marked resolved and its Done
// channel closed, so every waiter, however many, sees the same result;
// later reads return it from the cache without decoding again.
//
// An Aio is made by Send, Recv, Go and NewPending. It costs one
// allocation of about 240 bytes plus T. A receive on a Socket or Context
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
// saves a goroutine switch. A waiter parks on a pooled channel, so that
// waiting costs no allocation either. No actor is
// spawned unless Ref is called. See the package doc for measured costs.
//
// Its methods are safe for concurrent use. A nil *Aio behaves as an aio
// resolved with ErrInvalid.
type Aio[T any] struct {
	core
	val T
	cbs []func(T, error) // guarded by mu; nil once fired
	rop sockets.RecvOp   // an asynchronous receive (see recvAsync)
	dec decoder[T]       // RecvFunc's function; nil for Recv
}

// decoder turns a received message into a receive aio's value.
type decoder[T any] = func(m *sockets.Msg) (T, error)

// SendAio is the aio of a send: it resolves to struct{}{} and nil, or to
// the error of the send.
type SendAio = Aio[struct{}]

// States of core.stopped: why the operation's context ended.
const (
	running uint32 = iota
	canceled
	expired
)

// core is the part of an aio that does not depend on T. It is also the
// context the operation runs under (see opCtx), so that an aio needs no
// context.WithCancel of its own.
type core struct {
	// resolved is set, after the result is written, when the aio
	// resolves; done is made on demand (Done, or a waiter that must
	// block) and closed then, so an aio nobody blocks on costs no channel.
	resolved atomic.Bool

	// claimed is set by whoever runs the operation on a goroutine (see
	// opState), or resolves a NewPending aio.
	claimed atomic.Bool

	// stopped says why the operation was stopped (by Stop or by the
	// timer), running until then.
	stopped atomic.Uint32

	// The result, written before resolved is set (a queued send keeps
	// its error here until it resolves, see sendTurn).
	pipe uint32
	err  error

	fired bool // callbacks taken by resolve; guarded by mu

	// How a receive decodes its message.
	mode int8 // a sockets.Mode
	cd   sockets.Codec

	op *opState // an operation run on a goroutine; nil if none
	cv *CV
	x  *extra // the rarer options, and the time-out; nil if none

	// async is the aio itself while its receive waits in the protocol's
	// queue (no goroutine): Stop and the time-out cancel it there.
	async asyncOp

	mu   sync.Mutex
	done chan struct{} // nil until asked for; closedCh once resolved
	wake chan struct{} // a parked waiter's, from wakePool (see park)
	late *late         // made on demand
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

	// A send that waits its turn in its connection's queue (sq; nil for
	// other operations): self is its aio, turn its place in the queue.
	sq   *sockets.SendQueue
	self *SendAio
	turn sockets.QueuedSend
}

// extra holds what few aios need; it is set before the operation starts
// and never changed after.
type extra struct {
	cvs      []*CV
	sys      *actor.System
	log      *zap.Logger
	deadline time.Time   // Timeout(d > 0)
	timer    *time.Timer // Timeout(d > 0)
	forever  bool        // Timeout(d < 0)
	abort    func(error) // NewPending: resolve with this error, tell the owner
}

// late holds what is added after creation, guarded by mu.
type late struct {
	afters []*afterFunc // AfterFunc registrations on the operation's context
	ref    *actor.Ref   // the aio's actor, once Ref was called
}

func (c *core) lateLocked() *late {
	if c.late == nil {
		c.late = &late{}
	}
	return c.late
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
	cfg := config{mode: sockets.Serial}
	for _, o := range opts {
		applyOption(o, &cfg)
	}
	a := &Aio[T]{}
	a.cv = cfg.cv
	if cfg.cvs != nil || cfg.sys != nil || cfg.log != nil {
		a.x = &extra{cvs: cfg.cvs, sys: cfg.sys, log: cfg.log}
	}
	return a, cfg
}

// start readies the operation's context before its goroutine starts (op,
// whose stop channel is made here) and, for a time-out, the deadline and
// its timer or the flag that ignores the connection's time-out. A
// NewPending aio has no op: only the timer.
func (c *core) start(cfg *config, op *opState) {
	if op != nil {
		op.stop = make(chan struct{})
		c.op = op
	}
	if !cfg.hasTimeout || cfg.timeout == 0 {
		return
	}
	if c.x == nil {
		c.x = &extra{}
	}
	if cfg.timeout < 0 {
		c.x.forever = true
		return
	}
	c.x.deadline = time.Now().Add(cfg.timeout)
	// Armed only once stored: its function may resolve the aio, which
	// reads the field.
	c.x.timer = time.AfterFunc(time.Duration(math.MaxInt64), c.expire)
	c.x.timer.Reset(cfg.timeout)
}

// cancel ends the operation's context with context.Canceled, unless it has
// ended already. It does not wait.
func (c *core) cancel() { c.end(canceled) }

// expire ends the operation's context with context.DeadlineExceeded; it is
// the timer's function.
func (c *core) expire() { c.end(expired) }

func (c *core) end(why uint32) {
	if c.x != nil && c.x.abort != nil {
		// A NewPending aio: no operation of ours to stop; resolve it.
		if why == expired {
			c.x.abort(&nanoact.Error{Code: nanoact.CodeTimedOut, Op: "aio", Err: context.DeadlineExceeded})
		} else {
			c.x.abort(&nanoact.Error{Code: nanoact.CodeCanceled, Op: "aio: stop", Err: context.Canceled})
		}
		return
	}
	if c.async != nil {
		if !c.resolved.Load() && c.stopped.CompareAndSwap(running, why) {
			c.async.cancelAsync(why)
		}
		return
	}
	if c.op == nil {
		return
	}
	// Under mu, so that AfterFunc never sees the state set before stop is
	// closed (its function reads Err).
	c.mu.Lock()
	if c.stopped.Load() != running {
		c.mu.Unlock()
		return
	}
	c.stopped.Store(why)
	close(c.op.stop)
	var fs []*afterFunc
	if c.late != nil {
		fs, c.late.afters = c.late.afters, nil
	}
	c.mu.Unlock()
	for _, f := range fs {
		go f.fn() // as context.AfterFunc: each in its own goroutine
	}
	if c.op.sq != nil {
		c.leaveQueue(why)
	}
}

// leaveQueue resolves a send stopped (why) while it waits its turn,
// taking it out of the queue, unless its turn has come: the sends behind
// it then go on in order, and it is never sent.
func (c *core) leaveQueue(why uint32) {
	o := c.op
	if !o.sq.Remove(&o.turn) || !c.claimed.CompareAndSwap(false, true) {
		return
	}
	o.self.resolve(struct{}{}, c.giveUpSend(why), 0)
}

// giveUpSend abandons a send stopped (why) before it started: a staged
// send is given up, a message Send encoded is freed. It returns the
// error to resolve the aio with.
func (c *core) giveUpSend(why uint32) error {
	o := c.op
	if o.queue != nil {
		_ = o.queue(canceledCtx) // gives the staged send up
	}
	if o.owned {
		o.msg.Free()
	}
	o.msg = nil
	// (Not FromContext: stop may not be closed yet.)
	if why == expired {
		return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "aio: send", Err: context.DeadlineExceeded}
	}
	return &nanoact.Error{Code: nanoact.CodeCanceled, Op: "aio: send", Err: context.Canceled}
}

// sendTurn is a send aio seen as its sockets.SendQueue's Turn.
type sendTurn SendAio

// Send makes the send when its turn comes, unless it was stopped before.
func (t *sendTurn) Send() {
	a := (*SendAio)(t)
	if !a.claimed.CompareAndSwap(false, true) {
		return // (never: only leaveQueue claims a queued send otherwise)
	}
	// The outcome is kept in err, which nobody reads before the aio has
	// resolved: Sent resolves it with the same.
	if why := a.stopped.Load(); why != running {
		a.err = a.giveUpSend(why)
		return
	}
	a.err = a.doSend()
}

// Sent resolves the aio once it has left the queue, with the outcome
// Send kept.
func (t *sendTurn) Sent() {
	a := (*SendAio)(t)
	a.resolve(struct{}{}, a.err, 0)
}

// help runs the operation on the calling goroutine if its own goroutine
// has not started it yet, so that a waiter that would block until the
// aio resolves anyway does the work itself: one goroutine switch fewer,
// which is most of an aio's cost. The aio's goroutine then finds the
// operation claimed and exits. A send waiting in its connection's queue
// is helped only once its turn has come, if the queue's goroutine has not
// taken it yet (sockets.SendQueue.Help).
func (a *Aio[T]) help() {
	if a.op == nil || a.claimed.Load() {
		return
	}
	if a.op.sq != nil {
		a.op.sq.Help(&a.op.turn)
		return
	}
	a.runOp()
}

// runOp runs the operation unless someone has claimed it already.
func (a *Aio[T]) runOp() {
	o := a.op
	if !a.claimed.CompareAndSwap(false, true) {
		return
	}
	var v T
	if a.stopped.Load() == canceled {
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
	a.finishRecv(m, err)
}

// doSend is the operation of a send that has to wait: the blocking send,
// or the queueing of a staged one.
func (c *core) doSend() error {
	o := c.op
	msg := o.msg
	o.msg = nil
	var err error
	switch {
	case o.queue != nil:
		err = o.queue(c.opCtx())
		if err != nil && o.owned {
			msg.Free()
		}
	case o.toPipe != 0:
		err = o.con.Send(c.opCtx(), msg, sockets.ToPipe(o.toPipe)) // consumes msg either way
	default:
		err = o.con.SendMsg(c.opCtx(), msg)
		if err != nil && o.owned {
			msg.Free()
		}
	}
	return err
}

// resolve records the outcome, signals the CVs, wakes every waiter and
// runs the callbacks registered so far, in that order. It is called
// exactly once per aio: by the goroutine of the operation, by the one
// that completed or cancelled a receive waiting in the protocol's queue,
// or by Send or Recv when the operation completed at once.
func (a *Aio[T]) resolve(v T, err error, pipe uint32) {
	a.val, a.err, a.pipe = v, err, pipe
	if a.x != nil && a.x.timer != nil {
		a.x.timer.Stop()
	}
	// resolved is set after the result is written, so that whoever sees
	// it reads the result; with CVs, in the same critical section as
	// their signals (see signalAll).
	if a.cv == nil {
		a.resolved.Store(true)
	} else {
		var more []*CV
		if a.x != nil {
			more = a.x.cvs
		}
		signalAll(a.cv, more, &a.resolved)
	}
	a.mu.Lock()
	done, wake := a.done, a.wake
	a.done, a.wake = closedCh, nil
	cbs := a.cbs
	a.cbs, a.fired = nil, true
	a.mu.Unlock()
	if done != nil {
		close(done)
	}
	if wake != nil {
		wake <- struct{}{} // buffered, and the only send: never blocks
	}
	for _, fn := range cbs {
		a.call(fn)
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
	if c.x != nil && c.x.log != nil {
		return c.x.log
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

// wakePool holds the channels (capacity 1) on which a waiter parks until
// an aio resolves, so that blocking on an aio costs no allocation: resolve
// sends one token, which the parked waiter takes before it puts the
// channel back, empty.
var wakePool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// wait blocks until the aio resolves, as <-doneChan() does, but without
// making the done channel when it is the aio's only waiter: it parks on a
// pooled channel instead.
func (c *core) wait() {
	if c.resolved.Load() {
		return
	}
	c.mu.Lock()
	if c.fired {
		c.mu.Unlock()
		return
	}
	if c.wake != nil {
		// Another waiter is parked: share the done channel.
		if c.done == nil {
			c.done = make(chan struct{})
		}
		d := c.done
		c.mu.Unlock()
		<-d
		return
	}
	w := wakePool.Get().(chan struct{})
	c.wake = w
	c.mu.Unlock()
	<-w
	wakePool.Put(w)
}

func (c *core) doneChan() chan struct{} {
	if c.resolved.Load() {
		return closedCh
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
	}
	return c.done
}

// Resolved reports whether the aio has resolved. It never blocks and
// costs one atomic load.
func (a *Aio[T]) Resolved() bool {
	return a == nil || a.resolved.Load()
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
	if a.resolved.Load() {
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
		if a.resolved.Load() {
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
	if a.resolved.Load() {
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
	if !a.fired {
		a.cbs = append(a.cbs, fn)
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

// Send starts sending data on con (a *sockets.Socket, a *sockets.Context,
// or any sockets.Conn) and returns its aio at once, never blocking
// (nanonext's send_aio). data is encoded now, in Serial mode (con's Codec)
// or, with Mode(sockets.Raw), as raw bytes; a *sockets.Msg is sent as it
// is, and Send takes ownership of it once the aio resolves without error
// (on failure it is left to the caller, as in NNG). Other values are
// copied: the caller may reuse data at once. A *sockets.Stream has no
// serial mode: every send on it is raw, as its own Send is.
//
// Sends on one Socket, Context or Stream go out in the order Send was
// called, as NNG's send aios do: a send that cannot go at once waits in
// the connection's queue (sockets.SendQueue), and later sends join it
// while any wait, however much room has come meanwhile. A Timeout starts
// when Send is called and counts the time spent waiting behind others;
// the connection's send-timeout, which applies without one, starts when
// the send's turn comes. A send stopped or timed out while it waits its
// turn leaves the queue at once and is never sent. Sends on a socket and
// on its contexts are not ordered with each other, nor with the
// connection's own blocking Send.
//
// The aio resolves to struct{}{} once the message is queued for a peer,
// or to an error: ErrTimedOut (see Timeout; Timeout(0) also when earlier
// sends are waiting), ErrCanceled (Stop), ErrClosed (con closed),
// ErrState, ErrNotSupported, ErrBadType (data cannot be encoded),
// ErrInvalid (nil con).
//
// Cost: if no earlier send waits and the message can be queued at once,
// the send completes on the caller's goroutine with no goroutine started
// (the plain send plus one allocation of the aio). Otherwise it waits in
// the connection's queue, whose one goroutine (started while the queue is
// busy, gone once it is empty) makes the waiting sends one after the
// other and resolves their aios, running their callbacks before the next
// send. On a Stream there is no first try. On a Conn that is not a
// Socket, Context or Stream each send has its own goroutine and no order.
//
// On req, rep and respondent sockets and contexts the send changes the
// protocol's state before Send returns, as NNG's send does, even when the
// message has to wait to be queued (sockets.StageSend): a req's request is
// registered, so that a Recv started next waits for its reply, and a later
// Send cancels it (ErrCanceled), as a new request does; a rep's reply
// takes the request it answers, so that a Recv started next takes a new
// one. The aio itself may resolve after others started later: a reply can
// resolve its Recv before the request's Send aio has (wait for the latter
// with Value or Wait, not Result).
func Send(con sockets.Conn, data any, opts ...Option) *SendAio {
	a, cfg := newAio[struct{}](opts)
	if con == nil {
		a.resolve(struct{}{}, errNilConn("aio: send"), 0)
		return a
	}
	msg, isMsg := data.(*sockets.Msg)
	var sq *sockets.SendQueue
	switch c := con.(type) { // concrete types first: cheaper than an interface assertion
	case *sockets.Socket:
		sq = c.SendQueue()
	case *sockets.Context:
		sq = c.SendQueue()
	case *sockets.Stream:
		sq = c.SendQueue()
	case queuer:
		sq = c.SendQueue()
	}
	// Sends waiting their turn: this one joins them, so as not to
	// overtake them.
	waiting := sq != nil && sq.Busy()
	if cfg.hasTimeout && cfg.timeout == 0 {
		var err error = errBehind
		if !waiting {
			err = sendOnce(expiredCtx{}, con, data, msg, isMsg, &cfg)
		}
		a.resolve(struct{}{}, err, 0)
		return a
	}
	st, replier := stagerOf(con)
	if !waiting && canTrySend(con) && !replier && !(isMsg && cfg.pipe != 0) {
		if err := sendOnce(nonBlock, con, data, msg, isMsg, &cfg); !errors.Is(err, nanoact.ErrTryAgain) {
			a.resolve(struct{}{}, err, 0)
			return a
		}
	}
	owned := !isMsg
	if owned {
		var err error
		if msg, err = encode(con, data, cfg.mode); err != nil {
			a.resolve(struct{}{}, err, 0)
			return a
		}
	}
	op := &opState{isSend: true, owned: owned, toPipe: cfg.pipe, con: con, msg: msg}
	if st != nil {
		queue, err := st.StageSend(msg)
		if err == nil && replier && !waiting {
			// The first try, which a rep cannot make by a plain send: a
			// miss there would give up the request it answers.
			err = queue(nonBlock)
			if err == nil {
				a.resolve(struct{}{}, nil, 0)
				return a
			}
			if errors.Is(err, nanoact.ErrTryAgain) {
				err = nil // queued by the goroutine below
			}
		}
		if err != nil {
			if owned {
				msg.Free()
			}
			a.resolve(struct{}{}, err, 0)
			return a
		}
		op.queue = queue
	}
	if sq == nil {
		a.start(&cfg, op)
		go a.runOp()
		return a
	}
	op.sq, op.self = sq, a
	a.start(&cfg, op)
	sq.Push(&op.turn, (*sendTurn)(a))
	if why := a.stopped.Load(); why != running {
		// Stopped or timed out before it was queued, where end could not
		// find it.
		a.leaveQueue(why)
	}
	return a
}

// queuer is a connection that keeps its asynchronous sends in order
// (sockets.Socket, Context and Stream): Send queues behind the sends
// waiting there.
type queuer interface {
	SendQueue() *sockets.SendQueue
}

// errBehind is the error of a Timeout(0) send that cannot go at once
// because earlier sends wait their turn.
var errBehind = &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "aio: send", Err: errors.New("earlier sends are waiting")}

// stagerOf returns con as a sockets.Stager if sends on it change protocol
// state (cooked req, rep and respondent sockets and contexts), nil
// otherwise, and whether con answers requests (rep, respondent).
func stagerOf(con sockets.Conn) (st sockets.Stager, replier bool) {
	var p sockets.Protocol
	switch c := con.(type) {
	case *sockets.Socket:
		if c.Raw() {
			return nil, false
		}
		p, st = c.Protocol(), c
	case *sockets.Context:
		p, st = c.Socket().Protocol(), c
	default:
		return nil, false
	}
	switch p {
	case sockets.Req:
		return st, false
	case sockets.Rep, sockets.Respondent:
		return st, true
	}
	return nil, false
}

// canceledCtx is an ended context, to give up a staged send that was
// stopped before it started. It is never changed.
var canceledCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// sendOnce makes one attempt under ctx, by con's own Send (which encodes
// data) or, for a *sockets.Msg, by SendMsg (which leaves the message to
// the caller on failure).
func sendOnce(ctx context.Context, con sockets.Conn, data any, msg *sockets.Msg, isMsg bool, cfg *config) error {
	if isMsg && cfg.pipe == 0 {
		return con.SendMsg(ctx, msg)
	}
	switch {
	case cfg.pipe != 0:
		return con.Send(ctx, data, cfg.mode, sockets.ToPipe(cfg.pipe))
	case cfg.mode == sockets.Raw:
		return con.Send(ctx, data, rawSend...)
	case cfg.mode != sockets.Serial:
		return con.Send(ctx, data, cfg.mode)
	}
	return con.Send(ctx, data)
}

// rawSend is the option list of a raw send, made once (a variadic list
// passed to an interface method is otherwise allocated on every call). It
// is never changed.
var rawSend = []sockets.SendOption{sockets.Raw}

// encode builds the message of a send that has to wait, so that data is
// captured when Send is called.
func encode(con sockets.Conn, data any, mode sockets.Mode) (*sockets.Msg, error) {
	if s, ok := con.(*sockets.Stream); ok {
		return s.Encode(data) // every send on a stream is raw
	}
	switch mode {
	case sockets.Serial:
		cd := con.Codec()
		if cd == nil {
			cd = codec.CBOR()
		}
		b, err := cd.Marshal(data)
		if err != nil {
			return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: "aio: send", Err: err}
		}
		return &sockets.Msg{Body: b}, nil
	case sockets.Raw:
		if b, ok := data.([]byte); ok {
			return sockets.NewMsg(b), nil
		}
		b, err := codec.AppendRaw(nil, data)
		if err != nil {
			return nil, nngerr.Wrap(err, "aio: send")
		}
		return &sockets.Msg{Body: b}, nil
	}
	return nil, nanoact.Errorf(nanoact.CodeInvalid, "aio: send", "'mode' should be either serial or raw (got %s)", mode)
}

// Recv starts receiving one message on con (a *sockets.Socket, a
// *sockets.Context, or any sockets.Conn) and returns its aio at once,
// never blocking (nanonext's recv_aio). The message is decoded as T once,
// when it arrives, by sockets.Decode: in Serial mode (the default) by the
// connection's Codec as it is when Recv is called, in a raw mode
// (Mode(sockets.Raw) and the others) from its bytes by T's type. T may also
// be *sockets.Msg, which gets the message itself, header and body, in any
// mode. Pipe reports the connection the message came on.
//
// The aio resolves to the value, or to an error: ErrTimedOut (see
// Timeout), ErrCanceled (Stop), ErrClosed (con closed), ErrState (a req
// with no request outstanding), ErrNotSupported, ErrInvalid (nil con), or a
// *nanoact.ConvertError (errors.Is ErrBadType) holding the raw bytes when
// they do not decode as T.
//
// Cost: on a *sockets.Socket or *sockets.Context, no goroutine: the
// receive waits in the protocol's queue (sockets.RecvOp), and a
// Timeout, or the connection's recv-timeout, is one timer. Receives
// waiting on one connection get messages in the order they were started.
// On another Conn one goroutine waits for the message instead (see Aio).
// A Timeout(0) receive completes inside Recv.
func Recv[T any](con sockets.Conn, opts ...Option) *Aio[T] {
	return recv[T](con, nil, opts)
}

// RecvFunc starts receiving one message on con, as Recv does, and
// resolves to what fn makes of it: fn gets the message (its header,
// body and pipe id; it owns it) and returns the aio's value or error.
// Use it for decoding Recv's modes do not offer, or to check a message
// before decoding it (the rpc package's error replies). fn is called at
// most once, on the goroutine that completes the receive (see OnComplete),
// and must not block; it is not called when the receive fails. A nil fn
// resolves the aio to ErrInvalid. Mode does not apply.
func RecvFunc[T any](con sockets.Conn, fn func(m *sockets.Msg) (T, error), opts ...Option) *Aio[T] {
	if fn == nil {
		a, _ := newAio[T](opts)
		var zero T
		a.resolve(zero, &nanoact.Error{Code: nanoact.CodeInvalid, Op: "aio: recv", Err: errors.New("nil function")}, 0)
		return a
	}
	return recv[T](con, fn, opts)
}

func recv[T any](con sockets.Conn, fn decoder[T], opts []Option) *Aio[T] {
	a, cfg := newAio[T](opts)
	a.dec = fn
	if con == nil {
		var zero T
		a.resolve(zero, errNilConn("aio: recv"), 0)
		return a
	}
	a.mode, a.cd = int8(cfg.mode), con.Codec()
	if ac, ok := con.(sockets.AsyncConn); ok && a.recvAsync(ac, &cfg) {
		return a
	}
	if cfg.hasTimeout && cfg.timeout == 0 {
		m, err := con.RecvMsg(expiredCtx{})
		a.finishRecv(m, err)
		return a
	}
	// A Conn of another kind: the goroutine, or a waiter that runs the
	// operation itself (help), takes the message.
	a.start(&cfg, &opState{con: con})
	go a.runOp()
	return a
}

// asyncOp is an aio whose receive waits in the protocol's queue.
type asyncOp interface {
	// cancelAsync takes the receive out of the queue and, if it was still
	// there, resolves the aio with the error of why (canceled, expired).
	cancelAsync(why uint32)
}

// recvDone is an aio seen as the Receiver of its asynchronous receive.
type recvDone[T any] Aio[T]

func (d *recvDone[T]) Received(m *sockets.Msg, err error) {
	a := (*Aio[T])(d)
	a.finishRecv(m, err)
}

// recvAsync starts the receive without a goroutine, queued in the
// protocol until a message comes (sockets.RecvOp), and reports false,
// having started nothing, when the receive must complete at once (a zero
// time-out, which Recv handles). The time-out's
// timer is made before the receive starts, so that whoever completes it
// finds the timer to stop, and armed after.
func (a *Aio[T]) recvAsync(ac sockets.AsyncConn, cfg *config) bool {
	d, bounded := cfg.timeout, cfg.hasTimeout
	if !bounded {
		d = ac.DefaultRecvTimeout()
		bounded = d >= 0
	}
	if bounded && d <= 0 {
		return false
	}
	a.async = a
	var t *time.Timer
	if bounded {
		if a.x == nil {
			a.x = &extra{}
		}
		t = time.AfterFunc(time.Duration(math.MaxInt64), a.expire)
		a.x.timer = t
	}
	ac.RecvAsync(&a.rop, (*recvDone[T])(a))
	if t != nil && !a.resolved.Load() {
		t.Reset(d)
	}
	return true
}

func (a *Aio[T]) cancelAsync(why uint32) {
	if !a.rop.Cancel() {
		return
	}
	var zero T
	if why == expired {
		a.resolve(zero, &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "aio: recv", Err: context.DeadlineExceeded}, 0)
		return
	}
	a.resolve(zero, &nanoact.Error{Code: nanoact.CodeCanceled, Op: "aio: recv", Err: context.Canceled}, 0)
}

// finishRecv decodes the received message and resolves the aio.
func (a *Aio[T]) finishRecv(m *sockets.Msg, err error) {
	mode := sockets.Mode(a.mode)
	var v T
	if err != nil {
		a.resolve(v, err, 0)
		return
	}
	pipe := m.Pipe
	if a.dec != nil {
		v, err = a.decode(m)
		a.resolve(v, err, pipe)
		return
	}
	if p, ok := any(&v).(**sockets.Msg); ok {
		*p = m
		a.resolve(v, nil, pipe)
		return
	}
	v, err = sockets.Take[T](m, mode, a.cd)
	a.resolve(v, err, pipe)
}

// decode runs RecvFunc's function; a panic in it becomes the aio's error
// (ErrInternal), so that it cannot take down the connection's reader.
func (a *Aio[T]) decode(m *sockets.Msg) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			a.logger().Error("aio: recv function panicked", zap.Any("panic", r), zap.Stack("stack"))
			err = nanoact.Errorf(nanoact.CodeInternal, "aio: recv", "function panicked: %v", r)
		}
	}()
	return a.dec(m)
}

func errNilConn(op string) error {
	return &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: errors.New("nil connection")}
}

// canTrySend reports whether a send on con can be tried first on the
// caller's goroutine without blocking: on the sockets package's Socket and
// Context (a rep's or respondent's through its staged send, see Send).
func canTrySend(con sockets.Conn) bool {
	switch con.(type) {
	case *sockets.Socket, *sockets.Context:
		return true
	}
	return false
}
