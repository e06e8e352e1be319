package sockets

import (
	"sync"
	"sync/atomic"
)

// SendQueue keeps the asynchronous sends of one connection (a Socket, a
// Context or a Stream) in the order they were submitted, as NNG's send
// aios on one socket go out in order: a send that cannot go at once waits
// here, and every later send joins it while the queue is Busy, so that
// none overtakes an earlier one. A send that finds the queue idle may go
// straight through on its caller's goroutine. Package aio uses it; most
// programs use aio.
//
// One goroutine, owned by the queue, makes the waiting sends one after the
// other: it starts when a send joins an idle queue and exits once the
// queue is empty, so an idle queue costs nothing and a busy one one
// goroutine, however many sends wait. A caller that waits for the send at
// the head anyway may make it itself (Help). Closing the connection does not
// empty the queue by itself: each waiting send fails (ErrClosed) when its
// turn comes, which is at once.
//
// The zero value is ready to use; it must not be copied after first use.
type SendQueue struct {
	busy atomic.Bool // head != nil; written under mu, read without it

	// A send is made by the queue's goroutine or, when it is at the head
	// and that goroutine has not got to it, by a caller of Help; its
	// running flag says one has it. The goroutine exits when it finds the
	// head taken by a helper, which starts a new one when it is done if
	// sends remain.
	mu         sync.Mutex
	head, tail *QueuedSend
	draining   bool // the goroutine is running (it looks at head again)
}

// QueuedSend is one send waiting in a SendQueue; embed it in the send's
// operation. Its zero value is ready to use. It must not be copied, nor
// pushed again before its Turn's Sent has been called or Remove has taken
// it out.
type QueuedSend struct {
	next, prev *QueuedSend
	q          *SendQueue // while queued
	t          Turn
	running    bool // its Send has started; guarded by q.mu
}

// Turn is the operation of a QueuedSend, called by the queue's goroutine
// (or a caller of Help), never with a lock held.
type Turn interface {
	// Send makes the send, blocking until it is done or has failed. It is
	// called when the send reaches the head; the sends behind it wait
	// until it returns.
	Send()
	// Sent is called after Send, once the send has left the queue (a new
	// send may then go straight through): complete the operation here. On
	// the queue's goroutine the next send waits for it too, so it must
	// not block.
	Sent()
}

// SendQueue returns the socket's queue of asynchronous sends.
func (s *Socket) SendQueue() *SendQueue { return &s.sendq }

// SendQueue returns the context's queue of asynchronous sends; a context's
// sends are ordered among themselves, not with the socket's.
func (c *Context) SendQueue() *SendQueue { return &c.sendq }

// SendQueue returns the stream's queue of asynchronous sends.
func (s *Stream) SendQueue() *SendQueue { return &s.sendq }

// Busy reports whether sends are waiting or being made: while it is true a
// new send must join the queue (Push), not go straight through. It never
// blocks and costs one atomic load.
func (q *SendQueue) Busy() bool { return q.busy.Load() }

// Push appends x, whose operation is t, and returns at once. If the queue
// has no goroutine making its sends, Push starts one.
func (q *SendQueue) Push(x *QueuedSend, t Turn) {
	q.mu.Lock()
	x.t, x.q, x.running = t, q, false
	x.next, x.prev = nil, q.tail
	if q.tail == nil {
		q.head = x
	} else {
		q.tail.next = x
	}
	q.tail = x
	q.busy.Store(true)
	start := !q.draining
	q.draining = true
	q.mu.Unlock()
	if start {
		go q.drain()
	}
}

// Remove takes x out of the queue if it is waiting there and its Send has
// not started, and reports whether it did: the caller then completes the
// operation itself (ErrCanceled, ErrTimedOut), and its Turn is never
// called. false means x is not queued or is being sent. It never blocks.
func (q *SendQueue) Remove(x *QueuedSend) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if x.q != q || x.running {
		return false
	}
	q.unlink(x)
	return true
}

// Help makes x's send on the calling goroutine, then its Sent, if x is at
// the head of the queue and nobody has started it, and reports whether it
// did; otherwise it does nothing. A caller that would block until x is
// done anyway saves a goroutine switch this way (package aio's waiters).
// It blocks as the send does.
func (q *SendQueue) Help(x *QueuedSend) bool {
	q.mu.Lock()
	if q.head != x || x.running {
		q.mu.Unlock()
		return false
	}
	x.running = true
	q.mu.Unlock()
	t := x.t
	t.Send()
	q.mu.Lock()
	q.unlink(x)
	x.t = nil
	start := q.head != nil && !q.draining
	if start {
		q.draining = true
	}
	q.mu.Unlock()
	if start {
		go q.drain()
	}
	t.Sent()
	return true
}

// unlink takes x out; call with mu held.
func (q *SendQueue) unlink(x *QueuedSend) {
	if x.prev == nil {
		q.head = x.next
	} else {
		x.prev.next = x.next
	}
	if x.next == nil {
		q.tail = x.prev
	} else {
		x.next.prev = x.prev
	}
	x.next, x.prev, x.q = nil, nil, nil
	q.busy.Store(q.head != nil)
}

// drain makes the queued sends in order until the queue is empty.
func (q *SendQueue) drain() {
	for {
		q.mu.Lock()
		x := q.head
		if x == nil || x.running { // empty, or a helper has it (see Help)
			q.draining = false
			q.mu.Unlock()
			return
		}
		x.running = true
		q.mu.Unlock()
		t := x.t
		t.Send()
		q.mu.Lock()
		q.unlink(x)
		x.t = nil
		q.mu.Unlock()
		t.Sent()
	}
}
