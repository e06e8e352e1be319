package proto

import (
	"sync"
	"sync/atomic"
)

// readiness mirrors "a message is waiting to be received on the socket"
// as a level: a channel closed while the level is up, and a pipe whose read
// end holds one byte while it is up, for poll(2)-style event loops outside
// Go (NNG's recv-fd). It costs nothing until first asked for: the data path
// then pays one atomic load per queue change, and, once on, a mutex and a
// one-byte write or read on each change of level.
type readiness struct {
	on      atomic.Bool
	waiting func() int // messages waiting now; set by the protocol

	mu     sync.Mutex
	up     bool
	ch     chan struct{} // closed while up
	rfd    int
	wfd    int
	closed bool
}

// notify re-reads the level after a queue changed. Every change is followed
// by a notify, so the last one sees the final length.
func (r *readiness) notify() {
	if !r.on.Load() {
		return
	}
	r.mu.Lock()
	r.setLocked(r.waiting() > 0)
	r.mu.Unlock()
}

func (r *readiness) setLocked(up bool) {
	if r.closed || up == r.up {
		return
	}
	r.up = up
	var b [1]byte
	if up {
		close(r.ch)
		if r.wfd > 0 {
			fdWrite(r.wfd, b[:])
		}
		return
	}
	r.ch = make(chan struct{})
	if r.rfd > 0 {
		fdRead(r.rfd, b[:])
	}
}

func (r *readiness) enableLocked() {
	if r.ch == nil {
		r.ch = make(chan struct{})
		r.on.Store(true)
	}
	r.setLocked(r.waiting() > 0)
}

// Ready returns a channel that is closed while a message waits to be
// received; once the message is taken, call Ready again for the next.
func (r *readiness) Ready() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.enableLocked()
	return r.ch
}

// RecvFD returns a file descriptor that is readable while a message waits
// to be received. It belongs to the socket: do not read from it or close
// it; it is closed with the socket.
func (r *readiness) RecvFD() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return -1, errClosed
	}
	if r.rfd == 0 {
		rfd, wfd, err := newPipe()
		if err != nil {
			return -1, err
		}
		r.rfd, r.wfd = rfd, wfd
		if r.up {
			var b [1]byte
			fdWrite(r.wfd, b[:])
		}
	}
	r.enableLocked()
	return r.rfd, nil
}

// close releases the descriptors.
func (r *readiness) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.rfd > 0 {
		fdClose(r.rfd)
		fdClose(r.wfd)
		r.rfd, r.wfd = 0, 0
	}
}

// Readier is implemented by protocols that receive.
type Readier interface {
	Ready() <-chan struct{}
	RecvFD() (int, error)
}
