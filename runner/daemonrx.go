package runner

import (
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// daemonRx is a running daemon's receive loop. It keeps one asynchronous
// receive (sockets.RecvOp) waiting on the daemon's socket, so that each
// message is handled on the goroutine that brings it (the connection's
// reader) rather than handed to Run's goroutine first: a task reaches its
// goroutine with one switch fewer. Handling a message never blocks: a
// task runs on a goroutine of its own (Daemon.start), so that cancels are
// read while it runs.
type daemonRx struct {
	dm *Daemon
	op sockets.RecvOp

	// mu guards the hand-over between next and Received, as aio's device
	// does: inCall says next is inside RecvAsync, and a callback that
	// comes meanwhile sets again, so that next loops instead of
	// recursing; waiting says the receive is queued and nobody else
	// touches op, so that stop may cancel it; stopped asks the loop to
	// end.
	mu                     sync.Mutex
	inCall, again, waiting bool
	stopped, ended         bool
	done                   chan struct{} // closed when the loop has ended
}

func newDaemonRx(dm *Daemon) *daemonRx {
	return &daemonRx{dm: dm, done: make(chan struct{})}
}

// endLocked ends the loop; call with mu held.
func (r *daemonRx) endLocked() {
	if !r.ended {
		r.ended = true
		close(r.done)
	}
}

// next starts receives until one has to wait, or the loop ends.
func (r *daemonRx) next() {
	for {
		r.mu.Lock()
		if r.stopped || r.ended {
			r.endLocked()
			r.mu.Unlock()
			return
		}
		r.inCall, r.again = true, false
		r.mu.Unlock()
		r.dm.sock.RecvAsync(&r.op, r)
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
		// A stop that came while the receive was being queued could not
		// cancel it: cancel it here.
		if r.stopped && r.op.Cancel() {
			r.waiting = false
			r.endLocked()
		}
		r.mu.Unlock()
		return
	}
}

// stop ends the loop and waits until no message is being handled.
func (r *daemonRx) stop() {
	r.mu.Lock()
	r.stopped = true
	if r.waiting && r.op.Cancel() {
		r.waiting = false
		r.endLocked()
	}
	r.mu.Unlock()
	<-r.done
}

// Received implements sockets.Receiver: it handles m, then receives
// again.
func (r *daemonRx) Received(m *sockets.Msg, err error) {
	dm := r.dm
	end := false
	if err != nil {
		// The socket closed, or the daemon is stopping; any other error
		// is retried, as a blocking receive's would be.
		end = dm.life.Err() != nil || errors.Is(err, nanoact.ErrClosed)
	} else {
		dm.handle(m)
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
		if cancel := dm.running[f.id]; cancel != nil {
			cancel()
		}
		dm.mu.Unlock()
	case kindRefuse:
		dm.log.Warn("refused by the dispatcher", zap.String("reason", f.text))
		dm.stop(&nanoact.Error{Code: nanoact.CodePeerAuth, Op: "runner: daemon", Err: fmt.Errorf("refused: %s", f.text)})
	case kindBye:
		dm.log.Info("bye from the dispatcher")
		dm.stop(errBye)
	}
	m.Free()
}
