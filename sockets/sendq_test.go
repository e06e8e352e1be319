package sockets_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/nanoact/nanoact/sockets"
)

// turn is a queued operation that records when it is sent, and can be
// held at its Send until released.
type turn struct {
	id      int
	log     chan<- int
	hold    chan struct{} // nil: do not wait
	started chan struct{}
	sent    chan struct{}
}

func newTurn(id int, log chan<- int, hold bool) *turn {
	t := &turn{id: id, log: log, started: make(chan struct{}), sent: make(chan struct{})}
	if hold {
		t.hold = make(chan struct{})
	}
	return t
}

func (t *turn) Send() {
	close(t.started)
	if t.hold != nil {
		<-t.hold
	}
	t.log <- t.id
}

func (t *turn) Sent() { close(t.sent) }

// A SendQueue runs its sends one at a time in the order they were pushed;
// Remove takes out a send that waits but not the one being sent; Busy
// holds until the last has left; its goroutine exits then (goleak).
func TestSendQueueOrder(t *testing.T) {
	t.Parallel()
	var q sockets.SendQueue
	if q.Busy() {
		t.Fatal("a new queue is busy")
	}
	log := make(chan int, 100)
	first := newTurn(0, log, true)
	xs := make([]sockets.QueuedSend, 100)
	q.Push(&xs[0], first)
	turns := []*turn{first}
	for i := 1; i < len(xs); i++ {
		tt := newTurn(i, log, false)
		turns = append(turns, tt)
		q.Push(&xs[i], tt)
	}
	<-first.started
	if !q.Busy() {
		t.Fatal("not busy while sends wait")
	}
	if q.Remove(&xs[0]) {
		t.Fatal("removed the send being made")
	}
	if !q.Remove(&xs[50]) || q.Remove(&xs[50]) {
		t.Fatal("Remove of a waiting send: want true once")
	}
	if !q.Remove(&xs[99]) {
		t.Fatal("could not remove the tail")
	}
	close(first.hold)
	for i := range 99 {
		if i == 50 {
			continue
		}
		if got := <-log; got != i {
			t.Fatalf("sent %d, want %d", got, i)
		}
		<-turns[i].sent
	}
	if q.Busy() {
		t.Fatal("busy once empty")
	}
	select {
	case <-turns[50].started:
		t.Fatal("a removed send was made")
	default:
	}

	// An idle queue starts again.
	again := newTurn(7, log, false)
	var x sockets.QueuedSend
	q.Push(&x, again)
	<-again.sent
	if got := <-log; got != 7 {
		t.Fatalf("sent %d", got)
	}
}

// Help makes a send at the head that nobody has started, on the caller's
// goroutine; helpers racing the queue's goroutine never make a send twice
// nor out of order, and never one that is not at the head.
func TestSendQueueHelp(t *testing.T) {
	t.Parallel()
	var q sockets.SendQueue
	const n = 500
	log := make(chan int, n+2)
	first := newTurn(-2, log, true)
	second := newTurn(-1, log, false)
	var x0, x1 sockets.QueuedSend
	q.Push(&x0, first)
	q.Push(&x1, second)
	<-first.started
	if q.Help(&x0) || q.Help(&x1) {
		t.Fatal("helped a send being made, or one not at the head")
	}
	close(first.hold)
	<-second.sent

	xs := make([]sockets.QueuedSend, n)
	turns := make([]*turn, n)
	for i := range xs {
		turns[i] = newTurn(i, log, false)
	}
	var wg sync.WaitGroup
	for i := range xs {
		q.Push(&xs[i], turns[i])
		wg.Go(func() {
			for !q.Help(&xs[i]) {
				select {
				case <-turns[i].sent:
					return
				default:
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	for want := -2; want < n; want++ {
		if got := <-log; got != want {
			t.Fatalf("sent %d, want %d", got, want)
		}
	}
	if q.Busy() {
		t.Fatal("busy once empty")
	}
}
