package recvloop_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/recvloop"
	"github.com/nanoact/nanoact/sockets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var pairs atomic.Int64

// pair returns a poly socket listening on a fresh inproc name, with a
// receive queue of depth 1024, and one dialled to it; both are closed
// with the test.
func pair(t *testing.T) (rx, tx *sockets.Socket) {
	t.Helper()
	url := fmt.Sprintf("inproc://recvloop-%d-%d", os.Getpid(), pairs.Add(1))
	rx, err := sockets.New(sockets.Poly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rx.Close() })
	if err := sockets.Set(rx, sockets.RecvBuffer, 1024); err != nil {
		t.Fatal(err)
	}
	if _, err := rx.Listen(url); err != nil {
		t.Fatal(err)
	}
	tx, err = sockets.New(sockets.Poly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Close() })
	if _, err := tx.Dial(url, sockets.Sync); err != nil {
		t.Fatal(err)
	}
	return rx, tx
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// send sends the numbers from..to-1, one a message, and waits until the
// sending socket has handed them all on.
func send(ctx context.Context, t *testing.T, tx *sockets.Socket, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		m := sockets.NewMsg(nil)
		m.Body = binary.BigEndian.AppendUint64(m.Body[:0], uint64(i))
		if err := tx.SendMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func num(m *sockets.Msg) int {
	v := int(binary.BigEndian.Uint64(m.Body))
	m.Free()
	return v
}

// until polls cond (no event says what it waits for) until it holds or
// ctx ends.
func until(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal(what)
		case <-time.After(time.Millisecond):
		}
	}
}

func waitDone(ctx context.Context, t *testing.T, l *recvloop.Loop, what string) {
	t.Helper()
	select {
	case <-l.Done():
	case <-ctx.Done():
		t.Fatal(what)
	}
}

func ended(l *recvloop.Loop) bool {
	select {
	case <-l.Done():
		return true
	default:
		return false
	}
}

// Every message is handled once and in order, one at a time: a backlog
// queued before Start, then messages arriving while the loop waits and
// while it handles; Between runs before each receive, never beside the
// handler.
func TestOrder(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 20*time.Second)
	rx, tx := pair(t)
	const backlog, more = 300, 3000
	send(ctx, t, tx, 0, backlog)
	var next, inHandle, overlap, betweens atomic.Int64
	last := make(chan struct{})
	l := recvloop.New(rx, func(m *sockets.Msg) {
		if inHandle.Add(1) != 1 {
			overlap.Add(1)
		}
		defer inHandle.Add(-1)
		v := num(m)
		if want := int(next.Add(1)) - 1; v != want {
			t.Errorf("handled %d, want %d", v, want)
		}
		if v == backlog+more-1 {
			close(last)
		}
	}, recvloop.Between(func() {
		betweens.Add(1)
		if inHandle.Load() != 0 {
			overlap.Add(1)
		}
	}))
	l.Start()
	send(ctx, t, tx, backlog, backlog+more)
	select {
	case <-last:
	case <-ctx.Done():
		t.Fatalf("handled %d of %d", next.Load(), backlog+more)
	}
	l.Stop()
	if overlap.Load() != 0 {
		t.Fatal("two handlers, or a handler and Between, ran at once")
	}
	// One Between before each receive: one per message, one for the
	// receive waiting at the end, and the last one before ending.
	if n := betweens.Load(); n < backlog+more+1 {
		t.Fatalf("Between ran %d times for %d messages", n, backlog+more)
	}
}

// A backlog is taken in a loop, not by recursion: the handler's stack
// depth stays the same however many messages were queued, and Start
// returns once the queue is empty.
func TestBacklogDoesNotRecurse(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 20*time.Second)
	rx, tx := pair(t)
	const backlog = 1000
	send(ctx, t, tx, 0, backlog)
	pcs := make([]uintptr, 4096)
	minDepth, maxDepth := len(pcs), 0
	var handled atomic.Int64
	l := recvloop.New(rx, func(m *sockets.Msg) {
		num(m)
		handled.Add(1)
		d := runtime.Callers(0, pcs)
		minDepth, maxDepth = min(minDepth, d), max(maxDepth, d)
	})
	l.Start()
	until(ctx, t, "backlog not handled", func() bool { return handled.Load() == backlog })
	l.Stop()
	// The first message may come on the pipe reader, the rest on Start's
	// goroutine or the reader's after a hand-over: a few depths, each
	// flat. Recursion would add frames for every message.
	if maxDepth-minDepth > 40 {
		t.Fatalf("handler's stack depth went from %d to %d frames over %d messages", minDepth, maxDepth, backlog)
	}
}

// Halt while the receive waits ends the loop at once: nothing sent
// afterwards is handled, and the socket keeps it.
func TestHaltWhileWaiting(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	rx, tx := pair(t)
	var handled, betweens atomic.Int64
	l := recvloop.New(rx, func(m *sockets.Msg) { num(m); handled.Add(1) },
		recvloop.Between(func() { betweens.Add(1) }))
	l.Start()
	send(ctx, t, tx, 0, 5)
	// Idle: the Between after the fifth message has run, and the receive
	// started after it waits.
	until(ctx, t, "messages not handled", func() bool { return betweens.Load() == 6 && l.Waiting() })
	l.Halt()
	if !ended(l) {
		t.Fatal("Halt left a waiting loop running")
	}
	if l.Waiting() {
		t.Fatal("an ended loop still waits")
	}
	l.Halt() // harmless
	l.Stop() // returns at once
	send(ctx, t, tx, 5, 6)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := rx.RecvMsg(rctx)
	if err != nil {
		t.Fatalf("the message after Halt: %v", err)
	}
	if v := num(m); v != 5 || handled.Load() != 5 {
		t.Fatalf("after Halt: received %d, handled %d", v, handled.Load())
	}
}

// Halt while a message is handled (from another goroutine, or from the
// handler itself) ends the loop once the handler returns, after a last
// Between; the messages queued behind it stay in the socket.
func TestHaltWhileHandling(t *testing.T) {
	t.Parallel()
	for _, from := range []string{"outside", "handler"} {
		t.Run(from, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t, 10*time.Second)
			rx, tx := pair(t)
			var l *recvloop.Loop
			inside, release := make(chan struct{}), make(chan struct{})
			var handled, betweens atomic.Int64
			l = recvloop.New(rx, func(m *sockets.Msg) {
				num(m)
				if handled.Add(1) == 1 {
					if from == "handler" {
						l.Halt()
					}
					close(inside)
					<-release
				}
			}, recvloop.Between(func() { betweens.Add(1) }))
			// Queued first: the handler blocks the goroutine that brings
			// the first message, here Start's own.
			send(ctx, t, tx, 0, 3)
			started := make(chan struct{})
			go func() {
				defer close(started)
				l.Start()
			}()
			defer func() { <-started }()
			select {
			case <-inside:
			case <-ctx.Done():
				t.Fatal("nothing handled")
			}
			if from == "outside" {
				l.Halt()
			}
			if ended(l) {
				t.Fatal("the loop ended while a message was handled")
			}
			b := betweens.Load()
			close(release)
			waitDone(ctx, t, l, "the loop did not end after its handler")
			if n := handled.Load(); n != 1 {
				t.Fatalf("handled %d messages, want 1", n)
			}
			if n := betweens.Load(); n != b+1 {
				t.Fatalf("Between ran %d times after Halt, want 1", n-b)
			}
			for want := 1; want < 3; want++ {
				m, err := rx.RecvMsg(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if v := num(m); v != want {
					t.Fatalf("left in the socket: %d, want %d", v, want)
				}
			}
		})
	}
}

// Halt before Start: Start ends the loop without receiving.
func TestHaltBeforeStart(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	rx, tx := pair(t)
	send(ctx, t, tx, 0, 1)
	l := recvloop.New(rx, func(m *sockets.Msg) {
		m.Free()
		t.Error("handled a message after Halt")
	})
	l.Halt()
	l.Start()
	if !ended(l) {
		t.Fatal("Start after Halt left the loop running")
	}
	l.Start() // only the first call does anything
	m, err := rx.RecvMsg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Free()
}

// Kick while the receive waits runs Between on a goroutine of its own,
// after which the loop waits again and goes on handling; Kick while a
// message is handled leaves Between to the handling goroutine, before its
// next receive. Between never runs beside the handler.
func TestKick(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	rx, tx := pair(t)
	var handled, inHandle, overlap, betweens atomic.Int64
	inside, release := make(chan struct{}), make(chan struct{})
	l := recvloop.New(rx, func(m *sockets.Msg) {
		inHandle.Add(1)
		defer inHandle.Add(-1)
		if num(m) == 1 {
			close(inside)
			<-release
		}
		handled.Add(1)
	}, recvloop.Between(func() {
		if inHandle.Load() != 0 {
			overlap.Add(1)
		}
		betweens.Add(1)
	}))
	l.Start()
	send(ctx, t, tx, 0, 1)
	// Idle: the Between after the first message has run, and the
	// receive started after it waits.
	until(ctx, t, "the first message not handled", func() bool { return betweens.Load() == 2 && l.Waiting() })
	for range 3 {
		b := betweens.Load()
		l.Kick()
		until(ctx, t, "Kick ran no Between, or the loop did not wait again", func() bool {
			return betweens.Load() == b+1 && l.Waiting()
		})
	}
	// While handling: the Kick takes nothing back; Between runs once the
	// handler returns, before the receive of message 2.
	send(ctx, t, tx, 1, 2)
	select {
	case <-inside:
	case <-ctx.Done():
		t.Fatal("message 1 not handled")
	}
	b := betweens.Load()
	l.Kick()
	if betweens.Load() != b {
		t.Fatal("Kick while handling restarted the loop")
	}
	close(release)
	send(ctx, t, tx, 2, 3)
	until(ctx, t, "message 2 not handled", func() bool { return handled.Load() == 3 })
	if betweens.Load() <= b {
		t.Fatal("no Between after the handler the Kick came during")
	}
	l.Stop()
	if overlap.Load() != 0 {
		t.Fatal("Between ran beside the handler")
	}
}

// Kicks racing with messages lose none and run Between beside no
// handler (under -race, the hand-over's locking too).
func TestKickRace(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 20*time.Second)
	rx, tx := pair(t)
	const n = 2000
	var next, inHandle, overlap atomic.Int64
	l := recvloop.New(rx, func(m *sockets.Msg) {
		inHandle.Add(1)
		defer inHandle.Add(-1)
		if v, want := num(m), int(next.Add(1))-1; v != want {
			t.Errorf("handled %d, want %d", v, want)
		}
	}, recvloop.Between(func() {
		if inHandle.Load() != 0 {
			overlap.Add(1)
		}
	}))
	l.Start()
	stop := make(chan struct{})
	kicked := make(chan struct{})
	go func() {
		defer close(kicked)
		for {
			select {
			case <-stop:
				return
			default:
				l.Kick()
				runtime.Gosched()
			}
		}
	}()
	send(ctx, t, tx, 0, n)
	until(ctx, t, "messages lost", func() bool { return next.Load() == n })
	close(stop)
	<-kicked
	l.Stop()
	if overlap.Load() != 0 {
		t.Fatal("Between ran beside the handler")
	}
}

// The socket closing ends the loop by default. With OnError, an error
// that does not end the loop is retried: a closed socket fails each
// receive at once, on the goroutine that starts it, and the retries loop
// rather than recurse until the rule says end.
func TestErrors(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		ctx := ctxFor(t, 10*time.Second)
		rx, _ := pair(t)
		l := recvloop.New(rx, func(m *sockets.Msg) { m.Free() })
		l.Start()
		_ = rx.Close()
		waitDone(ctx, t, l, "the loop did not end with its socket")
		l.Stop()
	})
	t.Run("retry", func(t *testing.T) {
		t.Parallel()
		ctx := ctxFor(t, 10*time.Second)
		rx, _ := pair(t)
		const tries = 500
		var calls int
		pcs := make([]uintptr, 4096)
		depths := map[int]bool{}
		l := recvloop.New(rx, func(m *sockets.Msg) { m.Free() }, recvloop.OnError(func(err error) bool {
			if !errors.Is(err, nanoact.ErrClosed) {
				t.Errorf("error %v, want one matching ErrClosed", err)
			}
			calls++
			if calls > 1 { // the first fails on a pipe reader or Close's goroutine
				depths[runtime.Callers(0, pcs)] = true
			}
			return calls == tries
		}))
		l.Start()
		_ = rx.Close()
		waitDone(ctx, t, l, "the loop did not end")
		if calls != tries {
			t.Fatalf("the rule was asked %d times, want %d", calls, tries)
		}
		if len(depths) > 2 {
			t.Fatalf("retries at %d stack depths: recursion", len(depths))
		}
	})
}

// A loop on a sockets.Context receives as one on a socket does.
func TestContext(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	url := fmt.Sprintf("inproc://recvloop-ctx-%d-%d", os.Getpid(), pairs.Add(1))
	rep, err := sockets.New(sockets.Rep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rep.Close() })
	if _, err := rep.Listen(url); err != nil {
		t.Fatal(err)
	}
	req, err := sockets.New(sockets.Req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = req.Close() })
	if _, err := req.Dial(url, sockets.Sync); err != nil {
		t.Fatal(err)
	}
	c, err := rep.Context()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	got := make(chan int, 1)
	l := recvloop.New(c, func(m *sockets.Msg) { got <- num(m) })
	l.Start()
	m := sockets.NewMsg(nil)
	m.Body = binary.BigEndian.AppendUint64(m.Body[:0], 7)
	if err := req.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != 7 {
			t.Fatalf("got %d, want 7", v)
		}
	case <-ctx.Done():
		t.Fatal("the context's loop received nothing")
	}
	l.Stop()
}

// Handling allocates nothing per message: a backlog already in the
// socket's queue is taken on Start's goroutine with no allocation beyond
// noise (the received messages come from pools). Not parallel, so that
// the package's other tests allocate nothing meanwhile; not under the
// race detector, whose sync.Pool drops pooled messages at random.
func TestNoAllocPerMessage(t *testing.T) {
	if raceOn {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	ctx := ctxFor(t, 20*time.Second)
	rx, tx := pair(t)
	const backlog = 1000
	send(ctx, t, tx, 0, backlog)
	until(ctx, t, "the backlog never reached the receiving socket", func() bool {
		n, err := rx.Stat("rx_msgs")
		return err == nil && n == backlog
	})
	var handled int
	l := recvloop.New(rx, func(m *sockets.Msg) { m.Free(); handled++ })
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l.Start()
	runtime.ReadMemStats(&after)
	l.Stop()
	if handled != backlog {
		t.Fatalf("Start handled %d of a backlog of %d", handled, backlog)
	}
	if n := after.Mallocs - before.Mallocs; n > backlog/20 {
		t.Fatalf("%d allocations for %d messages", n, backlog)
	}
}
