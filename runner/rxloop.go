package runner

import (
	"context"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// rxLoop is the receive loop of a dispatcher or a running daemon. It
// keeps one asynchronous receive (sockets.RecvOp) waiting on the socket,
// so that each message is handled on the goroutine that brings it (the
// connection's reader) rather than handed to a goroutine of the loop's
// own first: one goroutine switch fewer per message. One message is
// handled at a time, in the order the socket receives them; messages
// that come while one is handled wait in the socket's queue and are
// taken, in order, by the goroutine handling, without recursing.
// Handling must not block for long: the connection's reader waits.
type rxLoop struct {
	sock   *sockets.Socket
	life   context.Context // once done, a receive error ends the loop
	handle func(*sockets.Msg)
	// between, if set, runs before each receive is started, on the
	// goroutine that owns the loop then, so that it never runs beside
	// handle (the dispatcher's sweeps).
	between func()
	op      sockets.RecvOp

	// mu guards the hand-over between next and Received, as aio's device
	// does: inCall says next is inside RecvAsync, and a callback that
	// comes meanwhile sets again, so that next loops instead of
	// recursing; waiting says the receive is queued and nobody else
	// touches op, so that halt and kick may take it back; stopped asks
	// the loop to end.
	mu                     sync.Mutex
	inCall, again, waiting bool
	stopped, ended         bool
	done                   chan struct{} // closed when the loop has ended
}

func newRxLoop(sock *sockets.Socket, life context.Context, handle func(*sockets.Msg)) *rxLoop {
	return &rxLoop{sock: sock, life: life, handle: handle, done: make(chan struct{})}
}

// endLocked ends the loop; call with mu held.
func (r *rxLoop) endLocked() {
	if !r.ended {
		r.ended = true
		close(r.done)
	}
}

// next starts receives until one has to wait, or the loop ends. Only the
// goroutine that owns the loop calls it: the starter, Received's (not in
// a call of next), or kick's.
func (r *rxLoop) next() {
	for {
		if r.between != nil {
			r.between()
		}
		r.mu.Lock()
		if r.stopped || r.ended {
			r.endLocked()
			r.mu.Unlock()
			return
		}
		r.inCall, r.again = true, false
		r.mu.Unlock()
		r.sock.RecvAsync(&r.op, r)
		r.mu.Lock()
		r.inCall = false
		if r.again {
			r.mu.Unlock()
			continue
		}
		if r.ended {
			r.mu.Unlock()
			return
		}
		r.waiting = true
		// A halt that came while the receive was being queued could not
		// take it back: take it back here.
		if r.stopped && r.op.Cancel() {
			r.waiting = false
			r.endLocked()
		}
		r.mu.Unlock()
		return
	}
}

// halt asks the loop to end, without waiting: at once if its receive
// waits in the queue, otherwise once the message being handled is.
func (r *rxLoop) halt() {
	r.mu.Lock()
	r.stopped = true
	if r.waiting && r.op.Cancel() {
		r.waiting = false
		r.endLocked()
	}
	r.mu.Unlock()
}

// stop is halt, then waits until the loop has ended: no message is being
// handled any more.
func (r *rxLoop) stop() {
	r.halt()
	<-r.done
}

// kick makes the loop run between soon: if its receive waits in the
// queue, it is taken back and the loop restarts on a goroutine of its
// own; otherwise the goroutine handling a message runs between before
// the next receive.
func (r *rxLoop) kick() {
	r.mu.Lock()
	if r.waiting && r.op.Cancel() {
		r.waiting = false
		r.mu.Unlock()
		go r.next()
		return
	}
	r.mu.Unlock()
}

// Received implements sockets.Receiver: it handles m, then receives
// again.
func (r *rxLoop) Received(m *sockets.Msg, err error) {
	end := false
	if err != nil {
		// The socket closed, or the loop's owner is stopping; any other
		// error is retried, as a blocking receive's would be.
		end = r.life.Err() != nil || errors.Is(err, nanoact.ErrClosed)
	} else {
		r.handle(m)
	}
	r.mu.Lock()
	if end {
		r.waiting = false
		r.endLocked()
		r.mu.Unlock()
		return
	}
	if r.inCall {
		r.again = true // next's loop goes on
		r.mu.Unlock()
		return
	}
	r.waiting = false
	r.mu.Unlock()
	r.next()
}

// handle decodes and acts on one message from the dispatcher; it frees m
// (a task's goroutine does, for a task).
func (dm *Daemon) handle(m *sockets.Msg) {
	f, err := decodeFrame(m.Body)
	if err != nil {
		dm.log.Warn("malformed message", zap.Uint32("pipe", m.Pipe))
		m.Free()
		return
	}
	switch f.kind {
	case kindChallenge:
		dm.answer(m.Pipe, &f)
	case kindTask:
		dm.start(m, &f)
		return // the task frees m
	case kindCancel:
		dm.mu.Lock()
		if tc := dm.running[f.id]; tc != nil {
			tc.cancel()
		}
		dm.mu.Unlock()
	case kindRefuse:
		dm.refused(m.Pipe, &f)
	case kindBye:
		dm.log.Info("bye from the dispatcher")
		dm.stop(errBye)
	}
	m.Free()
}
