package sockets

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
)

// endpointIDs numbers dialers and listeners, as NNG's ids.
var endpointIDs atomic.Uint32

// State is the state of a dialer or listener, as nanonext reports it.
type State int

// The endpoint states.
const (
	NotStarted State = iota
	Started
	Closed
)

// String returns "not started", "started" or "closed".
func (st State) String() string {
	switch st {
	case Started:
		return "started"
	case Closed:
		return "closed"
	}
	return "not started"
}

// endpoint is what dialers and listeners share.
type endpoint struct {
	id  uint32
	url string // as the user gave it
	s   *Socket

	stats endpointStats

	mu    sync.Mutex
	state State
	pipes map[uint32]struct{}
}

func (e *endpoint) init(s *Socket, url string) {
	e.id = endpointIDs.Add(1)
	e.s = s
	e.url = url
	e.pipes = make(map[uint32]struct{})
}

func (e *endpoint) addPipe(id uint32) {
	e.stats.connect.Add(1)
	e.mu.Lock()
	e.pipes[id] = struct{}{}
	e.mu.Unlock()
}

func (e *endpoint) removePipe(id uint32) {
	e.stats.disconnect.Add(1)
	e.mu.Lock()
	delete(e.pipes, id)
	e.mu.Unlock()
}

// closePipes closes every connection this endpoint made, as NNG does when
// a dialer or listener is closed.
func (e *endpoint) closePipes() {
	e.mu.Lock()
	ids := make([]uint32, 0, len(e.pipes))
	for id := range e.pipes {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	for _, id := range ids {
		e.s.pipes.close(id)
	}
}

// ID returns the endpoint's id, unique in the process.
func (e *endpoint) ID() uint32 { return e.id }

// URL returns the URL as it was given.
func (e *endpoint) URL() string { return e.url }

// State returns NotStarted, Started or Closed.
func (e *endpoint) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// Pipes returns the number of live connections this endpoint made.
func (e *endpoint) Pipes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pipes)
}

// Socket returns the endpoint's socket.
func (e *endpoint) Socket() *Socket { return e.s }

// markClosed moves the endpoint to Closed; false if it already was.
func (e *endpoint) markClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == Closed {
		return false
	}
	e.state = Closed
	return true
}

func errNotFound(op string) error { return &nanoact.Error{Code: nanoact.CodeNotFound, Op: op} }

// endpointErr wraps err, an error of a dialer's or listener's transport,
// as op, the sockets operation the user called: the transport's own op
// ("transport: dial …") gives way to it (the package doc's rule: an op
// names the public package called), keeping the code and the cause.
func endpointErr(err error, op string) error {
	if ne, ok := err.(*nanoact.Error); ok && strings.HasPrefix(ne.Op, "transport: ") {
		return &nanoact.Error{Code: ne.Code, Op: op, Err: ne.Err}
	}
	return nngerr.Wrap(err, op)
}
