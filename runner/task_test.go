package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/runner"
)

// gate lets a test hold tasks on their daemons and see them start and end.
type gate struct {
	started chan int      // a task's argument when it starts
	release chan struct{} // closed to let held tasks return
	ended   chan error    // ctx.Err() seen by a task that was cancelled
	once    sync.Once
}

func newGate() *gate {
	return &gate{started: make(chan int, 1000), release: make(chan struct{}), ended: make(chan error, 1000)}
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// fixture is a registry of test tasks.
type fixture struct {
	reg    *runner.Registry
	square runner.Task[int, int]
	hold   runner.Task[int, int]
	fail   runner.Task[string, int]
	boom   runner.Task[string, int]
	sleepy runner.Task[time.Duration, string]
	runs   sync.Map // int -> *atomic.Int64: executions of hold per argument
	g      *gate
}

func newFixture() *fixture {
	f := &fixture{reg: runner.NewRegistry(), g: newGate()}
	f.square = runner.Register(f.reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	f.hold = runner.Register(f.reg, "hold", func(ctx context.Context, n int) (int, error) {
		c, _ := f.runs.LoadOrStore(n, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
		f.g.started <- n
		select {
		case <-f.g.release:
			return n, nil
		case <-ctx.Done():
			f.g.ended <- ctx.Err()
			return 0, ctx.Err()
		}
	})
	f.fail = runner.Register(f.reg, "fail", func(_ context.Context, s string) (int, error) {
		return 0, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "fail", Err: errors.New(s)}
	})
	f.boom = runner.Register(f.reg, "boom", func(_ context.Context, s string) (int, error) { panic(s) })
	f.sleepy = runner.Register(f.reg, "sleep", func(ctx context.Context, d time.Duration) (string, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return "slept", nil
		case <-ctx.Done():
			f.g.ended <- ctx.Err()
			return "", ctx.Err()
		}
	})
	return f
}

func (f *fixture) runsOf(n int) int64 {
	c, ok := f.runs.Load(n)
	if !ok {
		return 0
	}
	return c.(*atomic.Int64).Load()
}

// newDispatcher opens an inproc dispatcher with n in-process daemons.
func newDispatcher(t *testing.T, f *fixture, n int, opts ...runner.DispatcherOption) (*runner.Dispatcher, []*runner.Daemon) {
	t.Helper()
	d, err := runner.NewDispatcher("", append([]runner.DispatcherOption{runner.WithRegistry(f.reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.g.open()
		_ = d.Close()
	})
	dms, err := d.StartDaemons(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitDaemons(ctxT(t), n); err != nil {
		t.Fatal(err)
	}
	return d, dms
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting")
		panic("unreachable")
	}
}

func status(t *testing.T, d *runner.Dispatcher) runner.Status {
	t.Helper()
	s, err := d.Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitStatus polls d's Status until cond holds, for at most 10 s: for
// states of other processes that no event here reports.
func waitStatus(t *testing.T, d *runner.Dispatcher, cond func(runner.Status) bool) {
	t.Helper()
	var s runner.Status
	waitUntil(t, func() string { return fmt.Sprintf("status never came: %+v", s) }, func() bool {
		s = status(t, d)
		return cond(s)
	})
}

func TestSubmit(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 2)
	ctx := ctxT(t)

	if v, err := f.square.Submit(ctx, d, 7).Value(ctx); err != nil || v != 49 {
		t.Fatalf("square(7) = %v, %v", v, err)
	}
	if v, err := runner.Submit[int](ctx, d, "square", 0).Value(ctx); err != nil || v != 0 {
		t.Fatalf("square(0) = %v, %v", v, err)
	}

	_, err := runner.Submit[int](ctx, d, "nope", 1).Value(ctx)
	var te *runner.TaskError
	if !errors.As(err, &te) || te.Code != nanoact.CodeNotFound || !errors.Is(err, nanoact.ErrNotFound) {
		t.Fatalf("unknown task: %v", err)
	}

	_, err = f.fail.Submit(ctx, d, "no way").Value(ctx)
	if !errors.As(err, &te) || !errors.Is(err, nanoact.ErrNotSupported) || !strings.Contains(te.Text, "no way") || te.Task != "fail" {
		t.Fatalf("failing task: %v", err)
	}

	// A wrong argument type fails on the daemon with ErrBadType.
	_, err = runner.Submit[int](ctx, d, "square", "seven").Value(ctx)
	if !errors.Is(err, nanoact.ErrBadType) {
		t.Fatalf("bad argument: %v", err)
	}
	// A result that does not decode as R.
	_, err = runner.Submit[string](ctx, d, "square", 3).Value(ctx)
	if !errors.Is(err, nanoact.ErrBadType) {
		t.Fatalf("bad result type: %v", err)
	}
	// Arguments that cannot be encoded.
	_, err = runner.Submit[int](ctx, d, "square", make(chan int)).Value(ctx)
	if !errors.Is(err, nanoact.ErrBadType) {
		t.Fatalf("unencodable argument: %v", err)
	}

	s := status(t, d)
	if s.Connections != 2 || s.Completed != 2 || s.Failed != 4 || s.Queued != 0 || s.Executing != 0 {
		t.Fatalf("status %+v", s)
	}
}

func TestPanic(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	_, err := f.boom.Submit(ctx, d, "kaboom").Value(ctx)
	var te *runner.TaskError
	var pe *rpc.PanicError
	if !errors.As(err, &te) || !errors.As(err, &pe) || pe.Value != "kaboom" || !strings.Contains(string(pe.Stack), "goroutine") {
		t.Fatalf("panic: %v", err)
	}
	if !strings.Contains(err.Error(), "panic: kaboom") || !errors.Is(err, nanoact.ErrInternal) {
		t.Fatalf("panic error text: %v", err)
	}
	// The daemon lives on.
	if v, err := f.square.Submit(ctx, d, 5).Value(ctx); err != nil || v != 25 {
		t.Fatalf("after panic: %v, %v", v, err)
	}
	if s := status(t, d); s.Connections != 1 || s.Failed != 1 || s.Completed != 1 {
		t.Fatalf("status %+v", s)
	}
}

func TestTaskTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	start := time.Now()
	_, err := f.sleepy.Submit(ctx, d, time.Hour, runner.TaskTimeout(50*time.Millisecond)).Value(ctx)
	if !errors.Is(err, nanoact.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("time-out: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("time-out took %v", el)
	}
	// The daemon saw its context end.
	if err := recv(t, f.g.ended); err == nil {
		t.Fatal("task context not ended")
	}
	// A task that finishes in time is not affected.
	if v, err := f.sleepy.Submit(ctx, d, time.Millisecond, runner.TaskTimeout(10*time.Second)).Value(ctx); err != nil || v != "slept" {
		t.Fatalf("in time: %v %v", v, err)
	}
	// A queued task times out in the queue.
	held := f.hold.Submit(ctx, d, 1)
	recv(t, f.g.started)
	_, err = f.square.Submit(ctx, d, 2, runner.TaskTimeout(20*time.Millisecond)).Value(ctx)
	if !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("queued time-out: %v", err)
	}
	f.g.open()
	if v, err := held.Value(ctx); err != nil || v != 1 {
		t.Fatalf("held: %v %v", v, err)
	}
	if s := status(t, d); s.Canceled != 2 || s.Completed != 2 || s.Queued != 0 {
		t.Fatalf("status %+v", s)
	}
}

func TestCancelRunning(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	a := f.hold.Submit(ctx, d, 1)
	recv(t, f.g.started)
	a.Stop()
	if _, err := a.Result(); !errors.Is(err, nanoact.ErrCanceled) {
		t.Fatalf("stopped: %v", err)
	}
	if err := recv(t, f.g.ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("task saw %v", err)
	}
	// The daemon is free again once the task has returned.
	if v, err := f.square.Submit(ctx, d, 3).Value(ctx); err != nil || v != 9 {
		t.Fatalf("after cancel: %v %v", v, err)
	}

	// The caller's ctx cancels the same way.
	cctx, cancel := context.WithCancel(ctx)
	b := f.hold.Submit(cctx, d, 2)
	recv(t, f.g.started)
	cancel()
	if _, err := b.Value(ctx); !errors.Is(err, nanoact.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("ctx cancel: %v", err)
	}
	recv(t, f.g.ended)
	if s := status(t, d); s.Canceled != 2 || s.Completed != 1 {
		t.Fatalf("status %+v", s)
	}
}

func TestCancelQueued(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	first := f.hold.Submit(ctx, d, 1)
	recv(t, f.g.started)
	queued := f.hold.Submit(ctx, d, 2)
	third := f.hold.Submit(ctx, d, 3)
	if s := status(t, d); s.Queued != 2 || s.Executing != 1 {
		t.Fatalf("status %+v", s)
	}
	queued.Stop()
	if _, err := queued.Result(); !errors.Is(err, nanoact.ErrCanceled) {
		t.Fatalf("queued stop: %v", err)
	}
	f.g.open()
	for _, a := range []*aio.Aio[int]{first, third} {
		if _, err := a.Value(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.runsOf(2); n != 0 {
		t.Fatalf("cancelled queued task ran %d times", n)
	}
	if s := status(t, d); s.Queued != 0 || s.Canceled != 1 || s.Completed != 2 {
		t.Fatalf("status %+v", s)
	}
}

func TestDaemonLost(t *testing.T) {
	t.Parallel()
	for _, requeue := range []bool{false, true} {
		t.Run(fmt.Sprintf("requeue=%v", requeue), func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			d, dms := newDispatcher(t, f, 1)
			ctx := ctxT(t)
			var opts []runner.TaskOption
			if requeue {
				opts = append(opts, runner.Requeue(1))
			}
			a := f.hold.Submit(ctx, d, 1, opts...)
			if n := recv(t, f.g.started); n != 1 {
				t.Fatalf("started %d", n)
			}
			// Others wait in the queue.
			var rest []*aio.Aio[int]
			for i := 10; i < 20; i++ {
				rest = append(rest, f.hold.Submit(ctx, d, i))
			}
			// Kill the daemon mid-task: its socket closes, as when a
			// process dies.
			if err := dms[0].Close(); err != nil {
				t.Fatal(err)
			}
			if !requeue {
				if _, err := a.Value(ctx); !errors.Is(err, nanoact.ErrConnReset) {
					t.Fatalf("lost task: %v", err)
				}
			}
			f.g.open()
			if _, err := d.StartDaemons(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			if requeue {
				if v, err := a.Value(ctx); err != nil || v != 1 {
					t.Fatalf("requeued task: %v %v", v, err)
				}
			}
			if want := map[bool]int64{false: 1, true: 2}[requeue]; f.runsOf(1) != want {
				t.Fatalf("task 1 ran %d times", f.runsOf(1))
			}
			for i, r := range rest {
				if v, err := r.Value(ctx); err != nil || v != i+10 {
					t.Fatalf("queued task %d: %v %v", i+10, v, err)
				}
				if n := f.runsOf(i + 10); n != 1 {
					t.Fatalf("queued task %d ran %d times", i+10, n)
				}
			}
			s := status(t, d)
			wantFailed, wantRequeued := int64(1), int64(0)
			if requeue {
				wantFailed, wantRequeued = 0, 1
			}
			if s.Connections != 1 || s.Lost != 1 || s.Queued != 0 || s.Executing != 0 ||
				s.Failed != wantFailed || s.Requeued != wantRequeued || s.Completed != 11-wantFailed {
				t.Fatalf("status %+v", s)
			}
			if len(s.Daemons) != 2 || s.Daemons[1].Online || s.Daemons[1].ID != dms[0].ID() {
				t.Fatalf("daemons %+v", s.Daemons)
			}
		})
	}
}

// Every outcome is counted before its aio resolves: a Status asked once
// the aio has resolved sees it, even one asked from the aio's own
// callback (which runs on the goroutine that resolved it, before that
// goroutine does anything else), for tasks that time out on a daemon or
// in the queue, are cancelled by their ctx, complete, or fail.
func TestStatusCountsBeforeResolve(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 2)
	ctx := ctxT(t)
	held := f.hold.Submit(ctx, d, 1) // one daemon held: the other is free
	recv(t, f.g.started)
	var want runner.Status
	// seen checks the Status that the aio's callback saw
	// and the aio's error.
	seen := func(what string, a *aio.Aio[string], wantErr error) {
		t.Helper()
		got := make(chan runner.Status, 1)
		a.OnComplete(func(_ string, err error) {
			if (wantErr == nil) != (err == nil) || (wantErr != nil && !errors.Is(err, wantErr)) {
				t.Errorf("%s: %v, want %v", what, err, wantErr)
			}
			s, serr := d.Status(ctx)
			if serr != nil {
				t.Error(serr)
			}
			got <- s
		})
		s := recv(t, got)
		if s.Canceled != want.Canceled || s.Completed != want.Completed || s.Failed != want.Failed {
			t.Fatalf("%s: status canceled %d completed %d failed %d, want %d %d %d", what,
				s.Canceled, s.Completed, s.Failed, want.Canceled, want.Completed, want.Failed)
		}
	}
	for range 5 {
		want.Canceled++
		seen("timed out on a daemon", f.sleepy.Submit(ctx, d, time.Hour, runner.TaskTimeout(5*time.Millisecond)), nanoact.ErrTimedOut)
		recv(t, f.g.ended)
		cctx, cancel := context.WithCancel(ctx)
		a := f.sleepy.Submit(cctx, d, time.Hour)
		want.Canceled++
		cancel()
		seen("ctx cancelled", a, nanoact.ErrCanceled)
		want.Completed++
		seen("completed", f.sleepy.Submit(ctx, d, time.Nanosecond), nil)
		want.Failed++
		seen("failed", runner.Submit[string](ctx, d, "fail", "no"), nanoact.ErrNotSupported)
	}
	f.g.open()
	if _, err := held.Value(ctx); err != nil {
		t.Fatal(err)
	}
}

// StartDaemons returns once its daemons have joined (its doc says so):
// Daemons and Status count them at once, without WaitDaemons.
func TestStartDaemonsJoined(t *testing.T) {
	t.Parallel()
	f := newFixture()
	for i := range 20 {
		d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.StartDaemons(context.Background(), 3); err != nil {
			t.Fatal(err)
		}
		if n := d.Daemons(); n != 3 {
			t.Fatalf("run %d: %d daemons after StartDaemons(3)", i, n)
		}
		if s := status(t, d); s.Connections != 3 || s.Connecting != 0 {
			t.Fatalf("run %d: status %+v", i, s)
		}
		_ = d.Close()
	}
	// A daemon that cannot join makes StartDaemons fail, not hang.
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 1, runner.WithToken("not the session's")); !errors.Is(err, nanoact.ErrPeerAuth) {
		t.Fatalf("refused daemon: %v", err)
	}
}
