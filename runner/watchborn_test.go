package runner

import (
	"context"
	"testing"
	"time"

	"github.com/nanoact/nanoact/aio"
)

// The submission times WatchTasks keeps beside the tasks are dropped
// however a task ends: a result, its ctx, its time-out, Stop; and none is
// kept while nobody watches.
func TestWatchTasksKeepsNoTimes(t *testing.T) {
	reg := NewRegistry()
	release := make(chan struct{})
	wait := Register(reg, "wait", func(ctx context.Context, _ int) (int, error) {
		select {
		case <-release:
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	d, err := NewDispatcher("", WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	records := func() int {
		d.bornMu.Lock()
		defer d.bornMu.Unlock()
		return len(d.born)
	}
	_, _ = wait.Submit(ctx, d, 0, TaskTimeout(time.Millisecond)).Value(ctx) // unwatched
	if n := records(); n != 0 {
		t.Fatalf("%d times kept with no watcher", n)
	}
	stop := d.WatchTasks(func(TaskDone) {})
	defer stop()
	running := wait.Submit(ctx, d, 0)
	queued := wait.Submit(ctx, d, 0) // behind it on the one daemon
	cctx, ccancel := context.WithCancel(ctx)
	byCtx := wait.Submit(cctx, d, 0)
	if n := records(); n != 3 {
		t.Fatalf("%d times kept for 3 watched tasks", n)
	}
	// A task with a 1 ms time-out: its time is kept until the time-out,
	// which under load may come before records looks; then it must be
	// gone, and another such task is submitted until one is seen.
	var timed *aio.Aio[int]
	for tries := 1; ; tries++ {
		timed = wait.Submit(ctx, d, 0, TaskTimeout(time.Millisecond))
		n := records()
		if n == 4 {
			break
		}
		if n != 3 || tries == 100 {
			t.Fatalf("%d times kept for 4 watched tasks (try %d)", n, tries)
		}
		_, _ = timed.Value(ctx)
	}
	queued.Stop()
	ccancel()
	_, _ = timed.Value(ctx)
	_, _ = byCtx.Value(ctx)
	close(release)
	if _, err := running.Value(ctx); err != nil {
		t.Fatal(err)
	}
	if n := records(); n != 0 {
		t.Fatalf("%d times kept after every task ended", n)
	}
}
