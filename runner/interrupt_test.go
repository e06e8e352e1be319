package runner_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/runner"
)

// A task that ignores its cancel on a daemon process costs that process:
// after the interrupt grace it is killed and its launcher starts a fresh
// one in its place (WithRestart not needed); the task resolved at once,
// as may-have-run, and later tasks run on the new process (issue 17.1).
func TestInterruptProcessDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	d, err := runner.NewDispatcher("", runner.WithInterruptGrace(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out syncBuffer
	exited := make(chan *runner.Proc, 8)
	l, err := d.LaunchLocal(1, append(launchSelf(&out), runner.WithOnExit(func(p *runner.Proc) { exited <- p }))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxProc(t)
	pid, err := runner.Submit[int](ctx, d, "pid", struct{}{}).Value(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, how := range []string{"stop", "timeout"} {
		var a *aio.Aio[int]
		if how == "stop" {
			a = runner.Submit[int](ctx, d, "spin", 0)
			waitStatus(t, d, func(s runner.Status) bool { return s.Executing == 1 })
			a.Stop() // returns once the aio has resolved
			_, err := a.Result()
			wantStage(t, how, err, nanoact.ErrCanceled, runner.ErrMayHaveRun)
		} else {
			_, err := runner.Submit[int](ctx, d, "spin", 0, runner.TaskTimeout(100*time.Millisecond)).Value(ctx)
			wantStage(t, how, err, nanoact.ErrTimedOut, runner.ErrMayHaveRun)
		}
		p := recv(t, exited)
		if p.Pid() != pid || p.Err() == nil {
			t.Fatalf("%s: exited %d (%v), want the spinning daemon %d killed", how, p.Pid(), p.Err(), pid)
		}
		next, err := runner.Submit[int](ctx, d, "pid", struct{}{}).Value(ctx)
		if err != nil || next == pid {
			t.Fatalf("%s: after the kill: pid %d %v (killed %d)\n%s", how, next, err, pid, out.String())
		}
		pid = next
	}
	if v, err := runner.Submit[int](ctx, d, "square", 12).Value(ctx); err != nil || v != 144 {
		t.Fatalf("square: %v %v", v, err)
	}
	if n := len(l.Procs()); n != 3 {
		t.Fatalf("%d processes, want 3 (two replacements)", n)
	}
	if s := status(t, d); s.Connections != 1 || s.Canceled != 2 || s.Lost != 2 || s.Executing != 0 {
		t.Fatalf("status %+v", s)
	}
}

// In process, a goroutine cannot be killed: Close returns after the
// interrupt grace all the same, and its error lists the task it left
// running (issue 17.1). The task loops until the test lets it go, after
// the assertions, so that no goroutine outlives the test.
func TestCloseLeavesStuckTask(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	release, started := make(chan struct{}), make(chan struct{}, 1)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	spin := runner.Register(reg, "spin", func(context.Context, int) (int, error) {
		started <- struct{}{}
		for { // ignores its ctx
			select {
			case <-release:
				return 0, nil
			default:
				runtime.Gosched()
			}
		}
	})
	square := runner.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg), runner.WithInterruptGrace(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartDaemons(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	square.Submit(ctx, d, 1) // the first task: the spinning one is task 2
	a := spin.Submit(ctx, d, 0)
	recv(t, started)
	a.Stop()
	_, err = a.Result()
	wantStage(t, "stopped", err, nanoact.ErrCanceled, runner.ErrMayHaveRun)
	// Its slot stays busy (nothing to kill in process); the other
	// daemon serves the rest.
	if v, err := square.Submit(ctx, d, 7).Value(ctx); err != nil || v != 49 {
		t.Fatalf("square: %v %v", v, err)
	}
	if s := status(t, d); s.Executing != 1 {
		t.Fatalf("status %+v", s)
	}
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	select {
	case err = <-closed: // Close returned while the task still spins
	case <-time.After(10 * time.Second):
		close(release)
		<-closed
		t.Fatal("Close waited for a task that ignores its cancel")
	}
	var lr *runner.LeftRunningError
	if !errors.Is(err, nanoact.ErrTimedOut) || !errors.As(err, &lr) || len(lr.Tasks) != 1 {
		t.Fatalf("close: %v", err)
	}
	if lt := lr.Tasks[0]; lt.Name != "spin" || lt.Attempt.Task != 2 || lt.Attempt.Number != 1 || lt.Daemon == "" {
		t.Fatalf("left running: %+v", lt)
	}
	close(release)
}

// Over ssh, the killed session's remote daemon, its task spinning, exits
// on its own once its session is gone (its interrupt grace bounds the
// wait for the task), and a fresh session takes its place (issue 17.1).
func TestInterruptSSHDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd and processes")
	}
	fx := launchSSH(t, "tcp://127.0.0.1:0", []runner.DispatcherOption{runner.WithInterruptGrace(200 * time.Millisecond)}, 1)
	d, url, exits, out := fx.d, fx.url, fx.exits, fx.out
	ctx := ctxProc(t)
	pid, err := runner.Submit[int](ctx, d, "pid", struct{}{}).Value(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := runner.Submit[int](ctx, d, "spin", 0)
	waitStatus(t, d, func(s runner.Status) bool { return s.Executing == 1 })
	a.Stop()
	_, err = a.Result()
	wantStage(t, "stopped", err, nanoact.ErrCanceled, runner.ErrMayHaveRun)
	if p := recv(t, exits); p.Err() == nil {
		t.Fatalf("ssh session %s not killed", p.ID)
	}
	next, err := runner.Submit[int](ctx, d, "pid", struct{}{}).Value(ctx)
	if err != nil || next == pid {
		t.Fatalf("after the kill: pid %d %v (killed %d)\n%s", next, err, pid, out.String())
	}
	// The spinning daemon's process has gone (no event: polled).
	waitUntil(t, func() string { return fmt.Sprintf("daemon %d still running\n%s", pid, out.String()) },
		func() bool { return !slices.Contains(daemonsOf(url), pid) })
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// A daemon's own Close is bounded too: Run or Close (whichever gives up
// first) reports the spinning task, and both return.
func TestDaemonCloseLeavesStuckTask(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	release, started := make(chan struct{}), make(chan struct{}, 1)
	spin := runner.Register(reg, "spin", func(context.Context, int) (int, error) {
		started <- struct{}{}
		<-release // ignores its ctx
		return 0, nil
	})
	d, err := runner.NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dm, done := runDaemon(t, d, reg, runner.WithInterruptGrace(20*time.Millisecond))
	ctx := ctxT(t)
	a := spin.Submit(ctx, d, 0)
	recv(t, started)
	closeErr := dm.Close()
	runErr := recv(t, done)
	close(release)
	var lr *runner.LeftRunningError
	if !errors.As(closeErr, &lr) && !errors.As(runErr, &lr) || len(lr.Tasks) != 1 || lr.Tasks[0].Name != "spin" {
		t.Fatalf("close: %v; run: %v", closeErr, runErr)
	}
	if !errors.Is(runErr, nanoact.ErrClosed) {
		t.Fatalf("run: %v, want ErrClosed (its cause)", runErr)
	}
	_, err = a.Value(ctx)
	wantStage(t, "lost", err, nanoact.ErrConnReset, runner.ErrMayHaveRun)
}
