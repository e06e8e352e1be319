package proto

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// queue is a message channel whose depth can change while it is in use,
// as NNG's recv-buffer and send-buffer can at any time. Users load the
// current generation (one atomic load) and use its channel; a resize
// makes a new generation, moves the messages over and closes the old
// one's gone, so that an operation waiting on the old channel wakes and
// loads the new one. A producer that has put a message on a generation
// replaced meanwhile calls rescue, which moves it across: a resize loses
// no message except as it says. Order holds across a resize: producers
// wait while messages move (forPut), and the move starts only once no
// consumer is taking from the old generation (enter, leave).
type queue struct {
	g  atomic.Pointer[qgen]
	mu sync.Mutex // serialises resize and rescue
	// moving is set while a resize moves the messages across: a producer
	// then waits for it (forPut), so that none of its messages overtakes
	// one of its own still on the old generation.
	moving atomic.Bool
}

// qgen is one generation of a queue.
type qgen struct {
	ch   chan *Message
	gone chan struct{} // closed once a resize replaced this generation
	// readers counts the consumers taking from ch (enter to leave); a
	// resize moves the messages only once there are none, so that no
	// consumer takes a later message than one the move has carried over.
	readers atomic.Int32
}

func newQueue(n int) *queue {
	q := &queue{}
	q.g.Store(&qgen{ch: make(chan *Message, n), gone: make(chan struct{})})
	return q
}

// cur returns the current generation.
func (q *queue) cur() *qgen { return q.g.Load() }

// forPut returns the generation a producer puts on: the current one, once
// any resize under way has moved the old one's messages across. One
// atomic load more than cur while no resize runs.
func (q *queue) forPut() *qgen {
	g := q.g.Load()
	if q.moving.Load() {
		q.mu.Lock()
		g = q.g.Load()
		q.mu.Unlock()
	}
	return g
}

// enter returns the current generation for a consumer to take from,
// counted until it calls leave; a consumer waiting on ch must wait on
// gone too. Never blocks; two atomic additions and a load more than cur.
func (q *queue) enter() *qgen {
	for {
		g := q.g.Load()
		g.readers.Add(1)
		if q.g.Load() == g {
			return g
		}
		g.readers.Add(-1) // replaced meanwhile
	}
}

// leave ends a consumer's enter.
func (g *qgen) leave() { g.readers.Add(-1) }

// leaveIf is leave for a generation that may be nil (none entered).
func leaveIf(g *qgen) {
	if g != nil {
		g.leave()
	}
}

// replaced reports whether g is no longer the current generation.
func (q *queue) replaced(g *qgen) bool { return q.g.Load() != g }

// resize makes the queue n deep. The messages queued move to the new
// channel in order; when more are queued than n holds, the oldest of
// them go to spill first (NNG's nni_msgq_resize drops the oldest; the
// send queue hands them to its backlog, to be sent first).
func (q *queue) resize(n int, spill func(*Message)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moving.Store(true) // before the store: a producer seeing g waits
	defer q.moving.Store(false)
	old := q.g.Load()
	g := &qgen{ch: make(chan *Message, n), gone: make(chan struct{})}
	q.g.Store(g)
	close(old.gone)
	// Consumers still on old leave promptly: each either takes without
	// waiting or waits on old.gone too.
	for old.readers.Load() > 0 {
		runtime.Gosched()
	}
	for excess := len(old.ch) - n; excess > 0; excess-- {
		select {
		case m := <-old.ch:
			spill(m)
		default:
		}
	}
	move(old, g, spill)
}

// rescue moves what a producer left on generation g, replaced since, to
// the current one; what does not fit goes to spill.
func (q *queue) rescue(g *qgen, spill func(*Message)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	move(g, q.g.Load(), spill)
}

func move(from, to *qgen, spill func(*Message)) {
	for {
		select {
		case m := <-from.ch:
			select {
			case to.ch <- m:
			default:
				spill(m)
			}
		default:
			return
		}
	}
}

// drain frees every message queued.
func (q *queue) drain() {
	g := q.cur()
	for {
		select {
		case m := <-g.ch:
			m.Free()
		default:
			return
		}
	}
}

// spillRecv drops a received message a resized queue had no room for.
func (e *engine) spillRecv(m *Message) {
	m.Free()
	e.dropped(DropRecvFull)
}
