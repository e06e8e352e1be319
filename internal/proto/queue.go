package proto

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// queue is a message channel whose depth can change while it is in use,
// as NNG's recv-buffer and send-buffer can at any time. Users load the
// current generation, counted (enter), use its channel, and leave; a
// resize makes a new generation and closes the old one's gone, so that an
// operation waiting on the old channel leaves and enters the new one; once
// no user is left on the old generation, it moves the messages over. So
// a resize loses no message except as it says, and keeps their order: no
// producer puts, and no consumer takes, while the move runs.
//
// Users that put or take under a lock of their own which resize is also
// called under (sub's contexts, under sub.mu) may use cur instead.
type queue struct {
	g  atomic.Pointer[qgen]
	mu sync.Mutex // serialises resizes
	// moving is set while a resize moves the messages across; enter
	// waits for it.
	moving atomic.Bool
}

// qgen is one generation of a queue.
type qgen struct {
	ch   chan *Message
	gone chan struct{} // closed once a resize replaced this generation
	// users counts the producers and consumers using ch (enter to
	// leave); a resize moves the messages only once there are none, so
	// that no consumer takes a later message than one the move carries
	// over and no producer's message lands behind the move.
	users atomic.Int32
}

func newQueue(n int) *queue {
	q := &queue{}
	q.g.Store(&qgen{ch: make(chan *Message, n), gone: make(chan struct{})})
	return q
}

// cur returns the current generation.
func (q *queue) cur() *qgen { return q.g.Load() }

// enter returns the current generation for a producer to put on or a
// consumer to take from, counted until it calls leave. A user that waits
// on ch must wait on gone too, and must not call enter again, nor take a
// lock a resize's spill takes, before it leaves. While a resize moves
// messages, enter waits for the move, so that a writer sees what the move
// spilled (the send queue's backlog, sent first). Costs two atomic
// additions and two loads more than cur while no resize runs.
func (q *queue) enter() *qgen {
	for {
		g := q.g.Load()
		g.users.Add(1)
		if q.g.Load() == g && !q.moving.Load() {
			return g
		}
		g.users.Add(-1) // replaced meanwhile, or being moved to
		if q.moving.Load() {
			q.mu.Lock()
			q.mu.Unlock() //nolint:staticcheck // waits for the resize
		}
	}
}

// leave ends a user's enter.
func (g *qgen) leave() { g.users.Add(-1) }

// leaveIf is leave for a generation that may be nil (none entered).
func leaveIf(g *qgen) {
	if g != nil {
		g.leave()
	}
}

// resize makes the queue n deep. The messages queued move to the new
// channel in order; when more are queued than n holds, the oldest of
// them go to spill first (NNG's nni_msgq_resize drops the oldest; the
// send queue hands them to its backlog, to be sent first).
func (q *queue) resize(n int, spill func(*Message)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moving.Store(true) // before the store: a user seeing g waits
	defer q.moving.Store(false)
	old := q.g.Load()
	g := &qgen{ch: make(chan *Message, n), gone: make(chan struct{})}
	q.g.Store(g)
	close(old.gone)
	// Users still on old leave promptly: each either puts or takes
	// without waiting, or waits on old.gone too.
	for old.users.Load() > 0 {
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
