package runner_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
)

// Everywhere runs its task once on every daemon and gives each daemon's
// result by id; the daemons take no other task until theirs has ended
// (issue 17.4).
func TestEverywhere(t *testing.T) {
	t.Parallel()
	f := newFixture()
	var runs atomic.Int64
	setup := runner.Register(f.reg, "setup", func(ctx context.Context, n int) (int, error) {
		runs.Add(1)
		f.g.started <- n
		select {
		case <-f.g.release:
			return n + 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	// Daemons that run two tasks at once: only setup holds them back.
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.g.open()
		_ = d.Close()
	})
	ctx := ctxT(t)
	if _, err := d.StartDaemons(ctx, 3, runner.WithConcurrency(2)); err != nil {
		t.Fatal(err)
	}
	type res struct {
		m   map[string]runner.DaemonResult[int]
		err error
	}
	done := make(chan res, 1)
	go func() {
		m, err := setup.Everywhere(ctx, d, 7)
		done <- res{m, err}
	}()
	for range 3 {
		recv(t, f.g.started)
	}
	// While setup runs, other tasks wait in the queue.
	sq := f.square.Submit(ctx, d, 5)
	if s := status(t, d); s.Executing != 3 || s.Queued != 1 {
		t.Fatalf("during setup: %+v", s)
	}
	f.g.open()
	r := recv(t, done)
	if r.err != nil || len(r.m) != 3 || runs.Load() != 3 {
		t.Fatalf("everywhere: %v %v (%d runs)", r.m, r.err, runs.Load())
	}
	for _, id := range []string{"local-1", "local-2", "local-3"} {
		if got := r.m[id]; got.Err != nil || got.Value != 8 {
			t.Fatalf("daemon %s: %+v", id, got)
		}
	}
	if v, err := sq.Value(ctx); err != nil || v != 25 {
		t.Fatal(v, err)
	}
}

// A daemon whose Everywhere task fails, or times out, is named in the
// EverywhereError; the others' results are there too.
func TestEverywhereErrors(t *testing.T) {
	t.Parallel()
	f := newFixture()
	var n atomic.Int64
	runner.Register(f.reg, "second fails", func(ctx context.Context, _ int) (int, error) {
		if n.Add(1) == 2 {
			return 0, errors.New("no model here")
		}
		return 1, nil
	})
	d, _ := newDispatcher(t, f, 3)
	ctx := ctxT(t)
	m, err := runner.Everywhere[int](ctx, d, "second fails", 0)
	var ee *runner.EverywhereError
	if !errors.As(err, &ee) || len(ee.Errs) != 1 || ee.Daemons != 3 || len(m) != 3 {
		t.Fatalf("everywhere: %v %v", m, err)
	}
	for id, e := range ee.Errs {
		var te *runner.TaskError
		if !errors.As(e, &te) || te.Daemon != id || m[id].Err != e {
			t.Fatalf("%s: %v", id, e)
		}
	}
	// A time-out, per daemon.
	_, err = f.hold.Everywhere(ctx, d, 1, runner.TaskTimeout(20*time.Millisecond))
	if !errors.As(err, &ee) || len(ee.Errs) != 3 || !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("timeout: %v", err)
	}
	// Bad input.
	if _, err := runner.Everywhere[int](ctx, nil, "x", 0); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := runner.Everywhere[int](ctx, d, "nobody has it", 0); !errors.Is(err, nanoact.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := runner.Everywhere[int](ctx, d, "x", make(chan int), runner.OnJoin(nil)); !errors.Is(err, nanoact.ErrBadType) {
		t.Fatal(err)
	}
	_ = d.Close()
	if _, err := runner.Everywhere[int](ctx, d, "square", 1); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
}

// OnJoin runs the task on daemons that join later too, before their
// first task; OnDaemon sends a task to one daemon, and a daemon that is
// not there is a clear error.
func TestEverywhereOnJoinAndOnDaemon(t *testing.T) {
	t.Parallel()
	f := newFixture()
	var runs atomic.Int64
	setup := runner.Register(f.reg, "setup", func(context.Context, int) (int64, error) { return runs.Add(1), nil })
	d, _ := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	joined := make(chan string, 4)
	m, err := setup.Everywhere(ctx, d, 0, runner.OnJoin(func(id string, err error) {
		if err != nil {
			id += ": " + err.Error()
		}
		joined <- id
	}), runner.MinDaemons(1))
	if err != nil || len(m) != 1 || m["local-1"].Value != 1 {
		t.Fatal(m, err)
	}
	dms, err := d.StartDaemons(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if id := recv(t, joined); id != "local-2" || runs.Load() != 2 {
		t.Fatalf("joined %q, %d runs", id, runs.Load())
	}
	for _, id := range []string{"local-1", "local-2"} {
		a := f.square.Submit(ctx, d, 3, runner.OnDaemon(id))
		if v, err := a.Value(ctx); err != nil || v != 9 {
			t.Fatal(id, v, err)
		}
	}
	// Held on local-1, a task for local-1 waits, one for local-2 runs.
	h := f.hold.Submit(ctx, d, 1, runner.OnDaemon("local-1"))
	recv(t, f.g.started)
	wait := f.square.Submit(ctx, d, 4, runner.OnDaemon("local-1"))
	if v, err := f.square.Submit(ctx, d, 5, runner.OnDaemon("local-2")).Value(ctx); err != nil || v != 25 {
		t.Fatal(v, err)
	}
	if wait.Resolved() {
		t.Fatal("a task for a busy daemon ran elsewhere")
	}
	f.g.open()
	if v, err := wait.Value(ctx); err != nil || v != 16 {
		t.Fatal(v, err)
	}
	if _, err := h.Value(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = f.square.Submit(ctx, d, 1, runner.OnDaemon("no-such-daemon")).Value(ctx)
	if !errors.Is(err, nanoact.ErrNotFound) || !errors.Is(err, runner.ErrNotStarted) {
		t.Fatalf("unknown daemon: %v", err)
	}
	// A daemon that has left is unknown too.
	_ = dms[0].Close()
	waitStatus(t, d, func(s runner.Status) bool { return s.Connections == 1 })
	if _, err := f.square.Submit(ctx, d, 1, runner.OnDaemon("local-2")).Value(ctx); !errors.Is(err, nanoact.ErrNotFound) {
		t.Fatalf("departed daemon: %v", err)
	}
	s := status(t, d)
	if s.Queued != 0 || s.Executing != 0 {
		t.Fatalf("status %+v", s)
	}
}

// Everywhere with process daemons: each process runs it, and a process
// that a launcher restarts runs it too (OnJoin) before its first task.
func TestEverywhereProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	d, err := runner.NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	l, out := launchSeeded(t, d, 2, runner.WithRestart(1))
	ctx := ctxT(t)
	joined := make(chan string, 4)
	m, err := runner.Everywhere[int](ctx, d, "setup", 0, runner.OnJoin(func(id string, err error) {
		if err == nil {
			joined <- id
		}
	}))
	if err != nil || len(m) != 2 || m["launch-1"].Value == m["launch-2"].Value || m["launch-1"].Value == os.Getpid() {
		t.Fatalf("%v %v\n%s", m, err, out.String())
	}
	state := runner.TaskNamed[int, [2]int64]("state")
	for id, r := range m {
		st, err := state.Submit(ctx, d, 0, runner.OnDaemon(id)).Value(ctx)
		if err != nil || st != [2]int64{int64(r.Value), 1} {
			t.Fatalf("%s: %v %v", id, st, err)
		}
	}
	if err := l.Procs()[0].Kill(); err != nil {
		t.Fatal(err)
	}
	id := recv(t, joined)
	if id != "launch-3" {
		t.Fatalf("joined %q", id)
	}
	st, err := state.Submit(ctx, d, 0, runner.OnDaemon(id)).Value(ctx)
	if err != nil || st[1] != 1 || slices.Contains([]int{m["launch-1"].Value, m["launch-2"].Value}, int(st[0])) {
		t.Fatalf("restarted: %v %v\n%s", st, err, out.String())
	}
}

// A task queued for a daemon that goes before running it never started
// (ErrConnReset, ErrNotStarted); the one it was running may have run; at
// Close, queued ones end with ErrClosed; a stopped one leaves its
// daemon's queue.
func TestOnDaemonGone(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, dms := newDispatcher(t, f, 2)
	ctx := ctxT(t)
	running := f.hold.Submit(ctx, d, 1, runner.OnDaemon("local-1"), runner.Requeue(-1))
	recv(t, f.g.started)
	queued := f.square.Submit(ctx, d, 2, runner.OnDaemon("local-1"))
	stopped := f.square.Submit(ctx, d, 3, runner.OnDaemon("local-1"))
	stopped.Stop()
	if _, err := stopped.Result(); !errors.Is(err, nanoact.ErrCanceled) || !errors.Is(err, runner.ErrNotStarted) {
		t.Fatalf("stopped: %v", err)
	}
	_ = dms[0].Close() // dies with a task running and one queued
	if _, err := running.Value(ctx); !errors.Is(err, nanoact.ErrConnReset) || !errors.Is(err, runner.ErrMayHaveRun) {
		t.Fatalf("running (never re-queued elsewhere): %v", err)
	}
	if _, err := queued.Value(ctx); !errors.Is(err, nanoact.ErrConnReset) || !errors.Is(err, runner.ErrNotStarted) {
		t.Fatalf("queued: %v", err)
	}
	if f.runsOf(1) != 1 {
		t.Fatalf("the pinned task ran %d times", f.runsOf(1))
	}
	// At Close.
	h := f.hold.Submit(ctx, d, 4, runner.OnDaemon("local-2"))
	recv(t, f.g.started)
	q := f.square.Submit(ctx, d, 5, runner.OnDaemon("local-2"))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Value(ctx); !errors.Is(err, nanoact.ErrClosed) || !errors.Is(err, runner.ErrNotStarted) {
		t.Fatalf("queued at close: %v", err)
	}
	if _, err := h.Value(ctx); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("running at close: %v", err)
	}
	s := status(t, d)
	if s.Queued != 0 || s.Submitted != 5 || s.Completed+s.Failed+s.Canceled != 5 {
		t.Fatalf("status %+v", s)
	}
}
