// Package recvloop keeps one asynchronous receive (sockets.RecvOp)
// waiting on a socket and handles each message on the goroutine that
// brings it: the receive loop under aio's Device (one per direction) and
// runner's dispatcher and daemon readers.
//
// Handling a message where it arrives, on the connection's pipe reader,
// saves the goroutine switch a loop of its own would cost per message;
// the price is that handling must not block for long, since that reader
// waits. Messages are handled one at a time, in the order the socket
// receives them. Those that come while one is handled wait in the
// socket's queue and are taken, in order, by the goroutine handling: a
// backlog is taken in a loop, never by recursion, so the stack stays flat
// however deep the backlog.
//
// The package sits above sockets and below aio and runner, the two
// packages that use it; it is internal because its contract (handle must
// not block, hooks run on a pipe reader) is one for code that owns the
// socket, not for users.
package recvloop

import (
	"sync"

	"github.com/nanoact/nanoact/sockets"
)

// Conn is what a Loop receives on: sockets.Socket and sockets.Context.
type Conn interface {
	// RecvAsync starts op; see sockets.Socket.RecvAsync.
	RecvAsync(op *sockets.RecvOp, r sockets.Receiver)
}

// Option configures a Loop.
type Option interface{ apply(*Loop) }

type optionFunc func(*Loop)

func (f optionFunc) apply(l *Loop) { f(l) }

// Between sets a function the loop runs before it starts each receive,
// on the goroutine that owns the loop then (Start's, the one that handled
// the last message, or Kick's), so that it never runs beside the handler
// nor beside itself: work that must not race with handling, posted from
// elsewhere, and made to run soon with Kick. It also runs once more
// before the loop ends after a Halt. Default: none.
func Between(f func()) Option {
	return optionFunc(func(l *Loop) { l.between = f })
}

// OnError sets the rule for a receive that fails: failed is called with
// the error (on the goroutine the receive completed on, never beside the
// handler) and returns whether the loop ends; if not, the loop receives
// again, as a blocking receive would be retried. Default: every error
// ends the loop. The socket closing fails the waiting receive with an
// error matching nanoact.ErrClosed, and every receive after it at once,
// so failed must end the loop on that one.
func OnError(failed func(err error) (end bool)) Option {
	return optionFunc(func(l *Loop) { l.failed = failed })
}

// Loop is one receive loop. It is made by New, started once by Start and
// ended by Halt or Stop, by its receive failing (OnError), or by its
// socket closing. Its methods are safe for concurrent use.
//
// Cost: no goroutine while its receive waits (the receive waits in the
// socket's queue), and no allocation per message beyond the received one;
// Kick may start one short-lived goroutine.
type Loop struct {
	conn    Conn
	handle  func(*sockets.Msg)
	failed  func(error) bool
	between func()
	op      sockets.RecvOp

	// mu guards the hand-over between next and Received. inCall: next is
	// inside RecvAsync, and a Received that comes meanwhile (on next's
	// goroutine for a message already queued, or on a pipe reader) sets
	// again instead of calling next, so that next's loop goes on: a
	// backlog loops instead of recursing. waiting: the receive is queued
	// and nobody else touches op, so that Halt and Kick may take it back
	// (op.Cancel). stopped: Halt asked the loop to end. ended: it has;
	// done is closed.
	mu                     sync.Mutex
	started                bool
	inCall, again, waiting bool
	stopped, ended         bool
	done                   chan struct{}
}

// New returns a loop that will receive on c and hand each message to
// handle, which owns it (and frees it). handle runs on the goroutine that
// delivers the message, one call at a time, and must not block for long.
// New starts nothing; it costs one allocation.
func New(c Conn, handle func(*sockets.Msg), opts ...Option) *Loop {
	l := &Loop{conn: c, handle: handle, done: make(chan struct{})}
	for _, o := range opts {
		o.apply(l)
	}
	return l
}

// Start starts the loop on the calling goroutine: it takes the messages
// already queued on the socket, handling each, and returns once a receive
// has to wait (the goroutines that deliver messages go on from there) or
// the loop has ended. Only the first call does anything.
func (l *Loop) Start() {
	l.mu.Lock()
	if l.started {
		l.mu.Unlock()
		return
	}
	l.started = true
	l.mu.Unlock()
	l.next()
}

// Done returns a channel closed once the loop has ended: no message is
// being handled, and none will be.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Halt asks the loop to end and returns at once (it never blocks beyond
// a lock): the loop ends at once if its receive waits in the socket's
// queue, otherwise once the message being handled is, after a last
// Between. It may be called from the handler, from Between, or before
// Start (the loop then ends when started). Later calls do nothing.
func (l *Loop) Halt() {
	l.mu.Lock()
	l.stopped = true
	if l.waiting && l.op.Cancel() {
		l.waiting = false
		l.endLocked()
	}
	l.mu.Unlock()
}

// Stop is Halt, then blocks until the loop has ended. Never call it from
// the handler, from Between or from OnError's function (the loop cannot
// end while they run), nor before Start.
func (l *Loop) Stop() {
	l.Halt()
	<-l.done
}

// Kick makes the loop run Between soon, and returns at once: if its
// receive waits in the socket's queue, the receive is taken back and the
// loop restarts on a goroutine of its own (which runs Between, then
// receives again, and ends when that receive waits); otherwise the
// goroutine handling a message runs Between before the next receive.
func (l *Loop) Kick() {
	l.mu.Lock()
	if l.waiting && l.op.Cancel() {
		l.waiting = false
		l.mu.Unlock()
		go l.next()
		return
	}
	l.mu.Unlock()
}

// Waiting reports whether the loop's receive was left queued on the
// socket, for the goroutine that brings a message to complete: true from
// then until that message has been handled or the receive taken back, so
// also while the message that came to it is handled. For tests and
// diagnostics; it never blocks beyond a lock.
func (l *Loop) Waiting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting
}

// endLocked ends the loop; call with mu held.
func (l *Loop) endLocked() {
	if !l.ended {
		l.ended = true
		close(l.done)
	}
}

// next starts receives until one has to wait, or the loop ends. Only the
// goroutine that owns the loop calls it: Start's, Received's (when not
// inside a call of next), or Kick's.
func (l *Loop) next() {
	for {
		if l.between != nil {
			l.between()
		}
		l.mu.Lock()
		if l.stopped || l.ended {
			l.endLocked()
			l.mu.Unlock()
			return
		}
		l.inCall, l.again = true, false
		l.mu.Unlock()
		l.conn.RecvAsync(&l.op, l)
		l.mu.Lock()
		l.inCall = false
		if l.again {
			l.mu.Unlock()
			continue
		}
		if l.ended {
			l.mu.Unlock()
			return
		}
		l.waiting = true
		// A Halt that came while the receive was being queued could not
		// take it back: take it back here.
		if l.stopped && l.op.Cancel() {
			l.waiting = false
			l.endLocked()
		}
		l.mu.Unlock()
		return
	}
}

// Received implements sockets.Receiver: it handles m (or weighs err),
// then receives again. Only the socket calls it.
func (l *Loop) Received(m *sockets.Msg, err error) {
	end := false
	if err != nil {
		end = l.failed == nil || l.failed(err)
	} else {
		l.handle(m)
	}
	l.mu.Lock()
	if end {
		l.waiting = false
		l.endLocked()
		l.mu.Unlock()
		return
	}
	if l.inCall {
		l.again = true // next's loop goes on
		l.mu.Unlock()
		return
	}
	l.waiting = false
	l.mu.Unlock()
	l.next()
}
