package runner_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/runner"
)

// A full queue turns TrySubmit away at once and makes Submit wait: for
// room (a queued task leaves), or until its ctx ends, when it resolves
// without ever having been handed to the dispatcher.
func TestBackpressureCount(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 1, runner.WithMaxQueued(2))
	ctx := ctxT(t)
	first := f.hold.Submit(ctx, d, 1)
	recv(t, f.g.started) // running: no longer queued
	q2 := f.hold.Submit(ctx, d, 2)
	q3 := f.hold.Submit(ctx, d, 3)

	tried := f.hold.TrySubmit(ctx, d, 4)
	if !tried.Resolved() {
		t.Fatal("TrySubmit on a full queue did not fail at once")
	}
	_, err := tried.Result()
	wantErr(t, err, nanoact.ErrTryAgain)
	wantErr(t, err, runner.ErrNotStarted)

	// Submit waits under its ctx.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = f.hold.Submit(short, d, 5).Result()
	wantErr(t, err, nanoact.ErrTimedOut)
	wantErr(t, err, runner.ErrNotStarted)
	if s := status(t, d); s.Submitted != 3 || s.Queued != 2 {
		t.Fatalf("a Submit that found the queue full was queued: %+v", s)
	}

	// A waiting Submit gets in when a queued task leaves.
	got := make(chan *aio.Aio[int], 1)
	go func() { got <- f.hold.Submit(ctx, d, 6) }()
	q2.Stop()
	_, err = q2.Result()
	wantErr(t, err, nanoact.ErrCanceled)
	a6 := recv(t, got)
	f.g.open()
	for i, a := range []*aio.Aio[int]{first, q3, a6} {
		if v, err := a.Value(ctx); err != nil || v != []int{1, 3, 6}[i] {
			t.Fatalf("task %d: %v %v", i, v, err)
		}
	}
	// Room is back: TrySubmit succeeds.
	if v, err := f.square.TrySubmit(ctx, d, 7).Value(ctx); err != nil || v != 49 {
		t.Fatalf("TrySubmit with room: %v %v", v, err)
	}
}

// A Submit waiting for room ends when the dispatcher closes.
func TestBackpressureClose(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 1, runner.WithMaxQueued(1))
	ctx := ctxT(t)
	f.hold.Submit(ctx, d, 1)
	recv(t, f.g.started)
	f.hold.Submit(ctx, d, 2) // fills the queue
	got := make(chan error, 1)
	go func() {
		_, err := f.hold.Submit(ctx, d, 3).Value(ctx)
		got <- err
	}()
	waitStatus(t, d, func(s runner.Status) bool { return s.Queued == 1 })
	_ = d.Close()
	err := recv(t, got)
	wantErr(t, err, nanoact.ErrClosed)
	wantErr(t, err, runner.ErrNotStarted)
}

// The byte bound counts encoded arguments; one task larger than it runs
// when nothing else is queued.
func TestBackpressureBytes(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	g := newGate()
	hold := runner.Register(reg, "holdb", func(ctx context.Context, p []byte) (int, error) {
		g.started <- len(p)
		select {
		case <-g.release:
			return len(p), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg), runner.WithMaxQueuedBytes(250), runner.WithMaxQueued(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.open(); _ = d.Close() })
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	running := hold.Submit(ctx, d, make([]byte, 1000)) // alone: admitted
	recv(t, g.started)
	big := hold.TrySubmit(ctx, d, make([]byte, 1000)) // alone in the queue: admitted
	if _, err := hold.TrySubmit(ctx, d, make([]byte, 10)).Result(); !errors.Is(err, nanoact.ErrTryAgain) {
		t.Fatalf("over the byte bound: %v", err)
	}
	big.Stop()
	a := hold.TrySubmit(ctx, d, make([]byte, 100))
	b := hold.TrySubmit(ctx, d, make([]byte, 100))
	if _, err := hold.TrySubmit(ctx, d, make([]byte, 100)).Result(); !errors.Is(err, nanoact.ErrTryAgain) {
		t.Fatalf("third 100-byte task over a 250-byte bound: %v", err)
	}
	g.open()
	for _, x := range []*aio.Aio[int]{running, a, b} {
		if _, err := x.Value(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A queued task takes two allocations: the task with its aio, which the
// aio's embedding in the task (aio.Owned) made one (the aio took one of
// its own before), and its encoded arguments.
func TestQueuedTaskAllocations(t *testing.T) {
	d, err := runner.NewDispatcher("", runner.WithMaxQueued(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	nop := runner.TaskNamed[int, int]("nop")
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { nop.Submit(ctx, d, 1000) }); n != 2 {
		t.Errorf("a queued task takes %v allocations, want 2 (the task with its aio, its arguments)", n)
	}
}

// BenchmarkQueuedTaskHeap measures the heap a queued task holds, for
// issue 17's bound (at most 200 bytes a queued task beyond its payload):
// b.N tasks with a 3-byte payload (the CBOR of 1000) submitted to a
// dispatcher without daemons, so that all wait in its queue, the caller
// keeping their aios (as it must to see results). The heap is the live
// heap after a GC (runtime.MemStats.HeapAlloc) before and after the
// submissions; ns/op is Submit's time. It reports:
//
//   - B/queued-task: the heap grown per task less the 3 payload bytes,
//     that is everything a queued task costs but its payload: the task
//     with its aio (one allocation, a 176-byte size class for an int
//     result), the block holding the payload (the allocator's rounding,
//     5 bytes here, counts), and the task's slot in the dispatcher's
//     queue (a pointer in a ring buffer, about 8 bytes). Tasks with a
//     time-out, a context that can end or a trace carry one more
//     allocation (taskWatch), not measured here. The bound is 200.
//   - B/queued-task-beyond-aio: the same less what as many bare aios of
//     aio.NewPending (with an onStop closure) take, measured the same
//     way: what the runner adds to the aio a caller would hold anyway.
func BenchmarkQueuedTaskHeap(b *testing.B) {
	var before, after runtime.MemStats
	bare := make([]*aio.Aio[int], b.N)
	stops := make([]func(), b.N)
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range b.N {
		var x struct{ n int }
		stops[i] = func() { x.n++ } // as the runner's onStop, a method value
		bare[i], _ = aio.NewPending[int](stops[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	aioPer := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(b.N)
	runtime.KeepAlive(bare)
	bare, stops = nil, nil

	d, err := runner.NewDispatcher("", runner.WithMaxQueued(-1))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	nop := runner.TaskNamed[int, int]("nop")
	ctx := context.Background()
	as := make([]*aio.Aio[int], b.N)
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		as[i] = nop.Submit(ctx, d, 1000) // 3 bytes of CBOR
	}
	b.StopTimer()
	for {
		s, err := d.Status(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if s.Queued == b.N {
			break
		}
		runtime.Gosched()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (float64(after.HeapAlloc)-float64(before.HeapAlloc))/float64(b.N) - 3
	b.ReportMetric(per, "B/queued-task")
	b.ReportMetric(per-aioPer, "B/queued-task-beyond-aio")
	runtime.KeepAlive(as)
}
