package runner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
)

func wantStage(t *testing.T, what string, err, code, stage error) {
	t.Helper()
	other := runner.ErrMayHaveRun
	if stage == runner.ErrMayHaveRun {
		other = runner.ErrNotStarted
	}
	if !errors.Is(err, code) || !errors.Is(err, stage) || errors.Is(err, other) {
		t.Fatalf("%s: %v, want %v and %v", what, err, code, stage)
	}
}

// A cancelled, timed-out or closed task says whether it ever reached a
// daemon (issue 17.2).
func TestCancelStage(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	running := f.hold.Submit(ctx, d, 1)
	recv(t, f.g.started)

	queued := f.hold.Submit(ctx, d, 2)
	queued.Stop()
	_, err := queued.Result()
	wantStage(t, "queued, stopped", err, nanoact.ErrCanceled, runner.ErrNotStarted)

	_, err = f.hold.Submit(ctx, d, 3, runner.TaskTimeout(time.Millisecond)).Value(ctx)
	wantStage(t, "queued, timed out", err, nanoact.ErrTimedOut, runner.ErrNotStarted)

	cctx, cancel := context.WithCancel(ctx)
	byCtx := f.hold.Submit(cctx, d, 4)
	cancel()
	_, err = byCtx.Value(ctx)
	wantStage(t, "queued, ctx", err, nanoact.ErrCanceled, runner.ErrNotStarted)

	running.Stop()
	_, err = running.Result()
	wantStage(t, "running, stopped", err, nanoact.ErrCanceled, runner.ErrMayHaveRun)
	recv(t, f.g.ended)

	cctx, cancel = context.WithCancel(ctx)
	r2 := f.hold.Submit(cctx, d, 5)
	recv(t, f.g.started)
	cancel()
	_, err = r2.Value(ctx)
	wantStage(t, "running, ctx", err, nanoact.ErrCanceled, runner.ErrMayHaveRun)
	recv(t, f.g.ended)

	r3 := f.hold.Submit(ctx, d, 6)
	recv(t, f.g.started)
	q3 := f.hold.Submit(ctx, d, 7)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = r3.Value(ctx)
	wantStage(t, "running, closed", err, nanoact.ErrClosed, runner.ErrMayHaveRun)
	_, err = q3.Value(ctx)
	wantStage(t, "queued, closed", err, nanoact.ErrClosed, runner.ErrNotStarted)
	if n := f.runsOf(2) + f.runsOf(3) + f.runsOf(4) + f.runsOf(7); n != 0 {
		t.Fatalf("tasks said never started ran %d times", n)
	}
}

// A re-queued task runs again as attempt 2 of the same task id
// (AttemptFrom), and its lost first run is reported as may-have-run
// when it is not re-queued (issue 17.8).
func TestAttemptFrom(t *testing.T) {
	t.Parallel()
	if _, ok := runner.AttemptFrom(context.Background()); ok {
		t.Fatal("an attempt in a plain context")
	}
	reg := runner.NewRegistry()
	started := make(chan runner.Attempt, 4)
	att := runner.Register(reg, "attempt", func(ctx context.Context, _ int) (runner.Attempt, error) {
		a, ok := runner.AttemptFrom(ctx)
		if !ok {
			return a, errors.New("no attempt")
		}
		started <- a
		if a.Number == 1 {
			<-ctx.Done() // lost with its daemon
			return a, ctx.Err()
		}
		return a, nil
	})
	ctx := ctxT(t)
	for _, requeue := range []bool{true, false} {
		d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		dms, err := d.StartDaemons(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		var opts []runner.TaskOption
		if requeue {
			opts = append(opts, runner.Requeue(1))
		}
		a := att.Submit(ctx, d, 0, opts...)
		first := recv(t, started)
		if first.Number != 1 || first.Task == 0 {
			t.Fatalf("first attempt %+v", first)
		}
		if err := dms[0].Close(); err != nil {
			t.Fatal(err)
		}
		if !requeue {
			_, err := a.Value(ctx)
			wantStage(t, "lost", err, nanoact.ErrConnReset, runner.ErrMayHaveRun)
			continue
		}
		if _, err := d.StartDaemons(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		v, err := a.Value(ctx)
		if err != nil || v.Task != first.Task || v.Number != 2 {
			t.Fatalf("re-queued: %+v %v (first %+v)", v, err, first)
		}
		recv(t, started) // the second attempt's
		_ = d.Close()
	}
}
