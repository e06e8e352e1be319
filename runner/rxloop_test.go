package runner

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/recvloop"
	"github.com/nanoact/nanoact/sockets"
)

// rxPair returns a poly socket listening on a fresh inproc name and one
// dialled to it, both closed with the test.
func rxPair(t *testing.T) (rx, tx *sockets.Socket) {
	t.Helper()
	url := fmt.Sprintf("inproc://rxloop-%d-%d", os.Getpid(), time.Now().UnixNano())
	rx, err := sockets.New(sockets.Poly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rx.Close() })
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

func sendSeq(ctx context.Context, t *testing.T, tx *sockets.Socket, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		m := sockets.NewMsg(nil)
		m.Body = binary.BigEndian.AppendUint64(m.Body[:0], uint64(i))
		if err := tx.SendMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

// The runner's receive loop handles every message once and in order: a backlog waiting
// before it starts (taken in a loop on one goroutine, not by recursion),
// then messages arriving while it waits; kick runs between before the
// next receive, never beside handle; stop returns once it has ended,
// after which nothing is handled.
func TestRxLoopOrderKickStop(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	rx, tx := rxPair(t)
	const backlog, more = 100, 2000
	sendSeq(ctx, t, tx, 0, backlog)
	if err := tx.Flush(ctx); err != nil { // the backlog is rx's
		t.Fatal(err)
	}
	var next, inHandle, overlap, betweens atomic.Int64
	var kickWanted atomic.Bool
	kicked := make(chan struct{})
	got := make(chan int, 1)
	r := newRxLoop(rx, context.Background(), func(m *sockets.Msg) {
		inHandle.Add(1)
		defer inHandle.Add(-1)
		v := int(binary.BigEndian.Uint64(m.Body))
		m.Free()
		if want := int(next.Add(1)) - 1; v != want {
			t.Errorf("handled %d, want %d", v, want)
		}
		if v == backlog+more-1 {
			got <- v
		}
	}, recvloop.Between(func() {
		betweens.Add(1)
		if inHandle.Load() != 0 {
			overlap.Add(1)
		}
		if kickWanted.CompareAndSwap(true, false) {
			close(kicked)
		}
	}))
	r.Start()
	sendSeq(ctx, t, tx, backlog, backlog+more)
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatalf("handled %d of %d", next.Load(), backlog+more)
	}
	// Once its receive waits (polled: no event says so): the between
	// after the last message has run and the receive after it waits, a
	// kick runs between, on a goroutine of its own.
	for betweens.Load() != backlog+more+1 || !r.Waiting() {
		select {
		case <-ctx.Done():
			t.Fatal("the loop's receive never waited")
		case <-time.After(time.Millisecond):
		}
	}
	kickWanted.Store(true)
	r.Kick()
	select {
	case <-kicked:
	case <-ctx.Done():
		t.Fatal("kick ran no between")
	}
	r.Stop()
	select {
	case <-r.Done():
	default:
		t.Fatal("stop returned before the loop ended")
	}
	sendSeq(ctx, t, tx, backlog+more, backlog+more+1)
	if err := tx.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := next.Load(); n != backlog+more {
		t.Fatalf("handled %d after stop, want %d", n, backlog+more)
	}
	if overlap.Load() != 0 {
		t.Fatal("between ran beside handle")
	}
}

// A closed socket ends the loop (its waiting receive fails), and halt on
// an ended loop is harmless.
func TestRxLoopEndsOnClose(t *testing.T) {
	t.Parallel()
	rx, _ := rxPair(t)
	r := newRxLoop(rx, context.Background(), func(m *sockets.Msg) { m.Free() })
	r.Start()
	_ = rx.Close()
	select {
	case <-r.Done():
	case <-ctxFor(t, 10*time.Second).Done():
		t.Fatal("the loop did not end with its socket")
	}
	r.Stop()
}
