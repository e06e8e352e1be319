package runner_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
)

// runDaemon starts a daemon of reg on d's inproc URL with opts and runs
// it on a goroutine; its Run's error arrives on the returned channel.
func runDaemon(t *testing.T, d *runner.Dispatcher, reg *runner.Registry, opts ...runner.DaemonOption) (*runner.Daemon, <-chan error) {
	t.Helper()
	dm, err := runner.NewDaemon(reg, d.URL(), append([]runner.DaemonOption{runner.WithToken(d.Token())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	done, exited := make(chan error, 1), make(chan struct{})
	go func() {
		done <- dm.Run(context.Background())
		close(exited)
	}()
	t.Cleanup(func() {
		_ = dm.Close()
		<-exited
	})
	if err := d.WaitDaemons(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	return dm, done
}

// waitLog polls logs, for at most 10 s, until a message containing
// snippet was logged: the one event a daemon's timer gives.
func waitLog(t *testing.T, logs *observer.ObservedLogs, snippet string) {
	t.Helper()
	waitUntil(t, func() string { return "never logged " + snippet }, func() bool { return logs.FilterMessageSnippet(snippet).Len() > 0 })
}

// WithWallTime: the daemon leaves at its wall time, finishing the task it
// runs (not cancelled), takes no new one, and Run returns nil (issue
// 17.6).
func TestWallTime(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 0)
	ctx := ctxT(t)
	// Queued before the daemon runs, so that it starts well before the
	// wall time (which counts from Run).
	a := f.hold.Submit(ctx, d, 1)
	core, logs := observer.New(zap.InfoLevel)
	dm, done := runDaemon(t, d, f.reg, runner.WithWallTime(time.Second), runner.WithLogger(zap.New(core)))
	recv(t, f.g.started)
	waitLog(t, logs, "wall time reached")
	b := f.square.Submit(ctx, d, 3) // queued: the daemon has left
	f.g.open()
	if v, err := a.Value(ctx); err != nil || v != 1 {
		t.Fatalf("task running at the wall time: %v %v", v, err)
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("run: %v", err)
	}
	select {
	case err := <-f.g.ended:
		t.Fatalf("task cancelled at the wall time: %v", err)
	default:
	}
	_ = dm.Close() // Run has returned: its connection goes
	waitStatus(t, d, func(s runner.Status) bool { return s.Connections == 0 })
	if s := status(t, d); s.Queued != 1 || s.Completed != 1 || s.Lost != 0 {
		t.Fatalf("status %+v", s)
	}
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Value(ctx); err != nil || v != 9 {
		t.Fatalf("queued task: %v %v", v, err)
	}
}

// WithCleanup: the hook runs after every task, whatever it did, before
// its result is sent; a panicking hook is recovered and the daemon lives
// on (issue 17.6).
func TestCleanup(t *testing.T) {
	t.Parallel()
	f := newFixture()
	var cleaned atomic.Int64
	var panicNext atomic.Bool
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	if _, err := d.StartDaemons(ctx, 1, runner.WithCleanup(func() {
		cleaned.Add(1)
		if panicNext.Swap(false) {
			panic("cleanup")
		}
	})); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if v, err := f.square.Submit(ctx, d, i).Value(ctx); err != nil || v != i*i {
			t.Fatal(v, err)
		}
		if n := cleaned.Load(); n != int64(i+1) {
			t.Fatalf("after %d tasks, cleanup ran %d times", i+1, n)
		}
	}
	if _, err := f.boom.Submit(ctx, d, "x").Value(ctx); err == nil {
		t.Fatal("boom did not fail")
	}
	if _, err := f.fail.Submit(ctx, d, "x").Value(ctx); err == nil {
		t.Fatal("fail did not fail")
	}
	if n := cleaned.Load(); n != 5 {
		t.Fatalf("after a panic and an error, cleanup ran %d times, want 5", n)
	}
	panicNext.Store(true)
	if v, err := f.square.Submit(ctx, d, 4).Value(ctx); err != nil || v != 16 {
		t.Fatalf("panicking cleanup: %v %v", v, err)
	}
	if v, err := f.square.Submit(ctx, d, 5).Value(ctx); err != nil || v != 25 || cleaned.Load() != 7 {
		t.Fatalf("after a panicking cleanup: %v %v (cleanup ran %d times)", v, err, cleaned.Load())
	}
}

// WithFinishRunning: when the dispatcher goes away (its bye at Close, or
// a lost connection), the daemon lets its running task finish, its ctx
// never cancelled, then exits, without redialing (issue 17.6).
func TestFinishRunning(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"bye", "lost"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			d, _ := newDispatcher(t, f, 0)
			_, done := runDaemon(t, d, f.reg, runner.WithFinishRunning(), runner.WithReconnectGrace(time.Minute))
			ctx := ctxT(t)
			a := f.hold.Submit(ctx, d, 1)
			recv(t, f.g.started)
			want, code := error(nil), nanoact.ErrClosed
			if how == "bye" {
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				want, code = nanoact.ErrConnShut, nanoact.ErrConnReset
				if err := d.Socket().ClosePipe(status(t, d).Daemons[0].Pipe); err != nil {
					t.Fatal(err)
				}
			}
			_, err := a.Value(ctx)
			wantStage(t, how, err, code, runner.ErrMayHaveRun)
			select {
			case err := <-f.g.ended:
				t.Fatalf("task cancelled: %v", err)
			default:
			}
			select {
			case err := <-done:
				t.Fatalf("run returned before its task: %v", err)
			default:
			}
			f.g.open()
			if err := recv(t, done); (want == nil) != (err == nil) || want != nil && !errors.Is(err, want) {
				t.Fatalf("run: %v, want %v", err, want)
			}
			select {
			case err := <-f.g.ended:
				t.Fatalf("task cancelled: %v", err)
			default:
			}
			if f.runsOf(1) != 1 {
				t.Fatalf("task ran %d times", f.runsOf(1))
			}
		})
	}
}
