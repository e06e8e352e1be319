package runner_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/nanoact/nanoact/runner"
)

// WatchTasks reports each task a daemon finishes, with its outcome and a
// latency, only while registered.
func TestWatchTasks(t *testing.T) {
	reg := runner.NewRegistry()
	sq := runner.Register(reg, "sq", func(_ context.Context, n int) (int, error) {
		if n < 0 {
			return 0, errors.New("negative")
		}
		return n * n, nil
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	ctx := ctxT(t)
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []runner.TaskDone
	stop := d.WatchTasks(func(td runner.TaskDone) {
		mu.Lock()
		got = append(got, td)
		mu.Unlock()
	})
	if _, err := sq.Submit(ctx, d, 3).Value(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sq.Submit(ctx, d, -1).Value(ctx); err == nil {
		t.Fatal("negative square succeeded")
	}
	stop()
	stop() // idempotent
	if _, err := sq.Submit(ctx, d, 4).Value(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("watched %d tasks, want 2 (the third ran after stop): %+v", len(got), got)
	}
	if !got[0].OK || got[1].OK {
		t.Fatalf("outcomes %v %v, want true false", got[0].OK, got[1].OK)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range got {
		if td.Name != "sq" || td.Latency <= 0 || td.Pipe != st.Daemons[0].Pipe {
			t.Fatalf("task done %+v: want name sq, a positive latency, pipe %d", td, st.Daemons[0].Pipe)
		}
	}
}
