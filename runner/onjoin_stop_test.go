package runner_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nanoact/nanoact/runner"
)

// joinLog records the reports of OnJoin registrations by daemon id.
type joinLog struct {
	mu      sync.Mutex
	runs    map[string]int
	changed chan struct{} // closed and replaced at each report
}

func (l *joinLog) report(id string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.runs == nil {
		l.runs = make(map[string]int)
	}
	l.runs[id]++
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// waitCount waits until id has been reported want times (reports run on
// a goroutine of their own, so they may come after the daemon's next
// task), failing the test after ctxT's limit.
func (l *joinLog) waitCount(t *testing.T, id string, want int) {
	t.Helper()
	ctx := ctxT(t)
	for {
		l.mu.Lock()
		n := l.runs[id]
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		if n >= want {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%s reported %d times, want %d", id, n, want)
		}
	}
}

func (l *joinLog) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs[id]
}

// settle returns once daemon id has served its own queue: a task for it
// runs after its OnJoin runs (served first).
func settle(t *testing.T, f *fixture, d *runner.Dispatcher, id string) {
	t.Helper()
	ctx := ctxT(t)
	if v, err := f.square.Submit(ctx, d, 3, runner.OnDaemon(id)).Value(ctx); err != nil || v != 9 {
		t.Fatalf("task on %s: %v %v", id, v, err)
	}
}

// OnJoin's handle unregisters: after Stop, daemons that join do not run
// the task; a second Stop reports false; an Everywhere given a stopped
// handle runs on the daemons there but registers nothing.
func TestOnJoinStop(t *testing.T) {
	t.Parallel()
	f := newFixture()
	var runs atomic.Int64
	setup := runner.Register(f.reg, "setup", func(context.Context, int) (int64, error) { return runs.Add(1), nil })
	d, _ := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	var log joinLog
	h := runner.OnJoin(log.report)
	if _, err := setup.Everywhere(ctx, d, 0, h); err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	settle(t, f, d, "local-2")
	log.waitCount(t, "local-2", 1)
	if runs.Load() != 2 || log.count("local-2") != 1 {
		t.Fatalf("%d runs, local-2 reported %d", runs.Load(), log.count("local-2"))
	}
	if !h.Stop() {
		t.Fatal("Stop of a live registration: false")
	}
	if h.Stop() {
		t.Fatal("second Stop: true")
	}
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	settle(t, f, d, "local-3")
	if runs.Load() != 2 || log.count("local-3") != 0 {
		t.Fatalf("after Stop: %d runs, local-3 reported %d", runs.Load(), log.count("local-3"))
	}
	// A stopped handle: Everywhere runs now, and never on later joins.
	if m, err := setup.Everywhere(ctx, d, 0, h); err != nil || len(m) != 3 {
		t.Fatal(m, err)
	}
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	settle(t, f, d, "local-4")
	if runs.Load() != 5 || log.count("local-4") != 0 || h.Stop() {
		t.Fatalf("stopped handle: %d runs, local-4 reported %d", runs.Load(), log.count("local-4"))
	}
	// A handle never given to Everywhere has nothing to stop.
	if runner.OnJoin(nil).Stop() {
		t.Fatal("Stop of an unused handle: true")
	}
}

// A run of a stopped registration queued on a daemon that joined before
// the Stop, and not started yet, never starts, and is not reported.
func TestOnJoinStopDropsQueued(t *testing.T) {
	t.Parallel()
	f := newFixture()
	var runs atomic.Int64
	setup := runner.Register(f.reg, "setup", func(context.Context, int) (int64, error) { return runs.Add(1), nil })
	d, _ := newDispatcher(t, f, 0)
	ctx := ctxT(t)
	// With no daemon, both only register. A joining daemon (one slot)
	// runs hold first; setup waits in its queue.
	ha := runner.OnJoin(nil)
	if m, err := f.hold.Everywhere(ctx, d, 1, ha); err != nil || len(m) != 0 {
		t.Fatal(m, err)
	}
	var log joinLog
	hb := runner.OnJoin(log.report)
	if _, err := setup.Everywhere(ctx, d, 0, hb); err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	recv(t, f.g.started)
	if s := status(t, d); s.Queued != 1 || s.Executing != 1 {
		t.Fatalf("status %+v, want setup queued behind hold", s)
	}
	if !hb.Stop() {
		t.Fatal("Stop: false")
	}
	if s := status(t, d); s.Queued != 0 || s.Canceled != 1 {
		t.Fatalf("status after Stop %+v, want the queued run dropped", s)
	}
	f.g.open()
	settle(t, f, d, "local-1")
	if runs.Load() != 0 || log.count("local-1") != 0 {
		t.Fatalf("stopped run: %d runs, %d reports", runs.Load(), log.count("local-1"))
	}
	if !ha.Stop() {
		t.Fatal("Stop of hold's registration: false")
	}
}

// A daemon joining while Stop runs either ran the task (it joined first)
// or not; a daemon joining after Stop returned never does.
func TestOnJoinStopConcurrentJoin(t *testing.T) {
	t.Parallel()
	f := newFixture()
	runner.Register(f.reg, "mark", func(context.Context, int) (int, error) { return 0, nil })
	d, _ := newDispatcher(t, f, 0)
	ctx := ctxT(t)
	for i := range 10 {
		var log joinLog
		h := runner.OnJoin(log.report)
		if _, err := runner.Everywhere[int](ctx, d, "mark", i, h); err != nil {
			t.Fatal(err)
		}
		started := make(chan []*runner.Daemon, 1)
		go func() {
			dms, err := d.StartDaemons(ctx, 1)
			if err != nil {
				t.Error(err)
			}
			started <- dms
		}()
		if !h.Stop() {
			t.Fatalf("%d: Stop: false", i)
		}
		racer := recv(t, started)
		after, err := d.StartDaemons(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(racer) != 1 || len(after) != 1 {
			t.Fatal("daemons not started")
		}
		settle(t, f, d, racer[0].ID())
		settle(t, f, d, after[0].ID())
		if n := log.count(racer[0].ID()); n > 1 {
			t.Fatalf("%d: the racing daemon ran it %d times", i, n)
		}
		if n := log.count(after[0].ID()); n != 0 {
			t.Fatalf("%d: a daemon joining after Stop ran it %d times", i, n)
		}
		for _, dm := range append(racer, after...) {
			_ = dm.Close()
		}
		waitStatus(t, d, func(s runner.Status) bool { return s.Connections == 0 && s.Queued == 0 && s.Executing == 0 })
	}
}

// OnJoin's report runs off the dispatcher's reader: while one blocks,
// other tasks' results still arrive; a report may itself wait for a
// task; a panicking one is recovered and later reports still run.
func TestOnJoinReportOffReader(t *testing.T) {
	t.Parallel()
	f := newFixture()
	runner.Register(f.reg, "mark", func(context.Context, int) (int, error) { return 0, nil })
	d, _ := newDispatcher(t, f, 0)
	ctx := ctxT(t)
	entered, release := make(chan string, 4), make(chan struct{})
	h := runner.OnJoin(func(id string, err error) {
		if id == "local-3" {
			panic("a report that panics")
		}
		// A task from a report: its result comes through the reader.
		if v, err := f.square.Submit(ctx, d, 2, runner.OnDaemon(id)).Value(ctx); err != nil || v != 4 {
			t.Errorf("task from the report: %v %v", v, err)
		}
		entered <- id
		<-release
	})
	defer h.Stop()
	if _, err := runner.Everywhere[int](ctx, d, "mark", 0, h); err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if id := recv(t, entered); id != "local-1" {
		t.Fatalf("report for %q", id)
	}
	// The report blocks; results keep coming.
	for i := range 20 {
		if v, err := f.square.Submit(ctx, d, i).Value(ctx); err != nil || v != i*i {
			t.Fatalf("task %d while a report blocks: %v %v", i, v, err)
		}
	}
	if _, err := d.StartDaemons(ctx, 2); err != nil {
		t.Fatal(err)
	}
	close(release)
	if id := recv(t, entered); id != "local-2" {
		t.Fatalf("report for %q", id)
	}
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if id := recv(t, entered); id != "local-4" {
		t.Fatalf("report for %q after a panicking one", id)
	}
}

// A setup result goes from the reader to the reports queue directly, not
// through the resolver: while a task's aio callback blocks the resolver,
// a daemon that joins still has its OnJoin report run.
func TestOnJoinReportNotBehindCallbacks(t *testing.T) {
	t.Parallel()
	f := newFixture()
	runner.Register(f.reg, "mark", func(context.Context, int) (int, error) { return 0, nil })
	d, _ := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	reported := make(chan string, 4)
	h := runner.OnJoin(func(id string, err error) {
		if err != nil {
			t.Errorf("setup on %s: %v", id, err)
		}
		reported <- id
	})
	defer h.Stop()
	if _, err := runner.Everywhere[int](ctx, d, "mark", 0, h); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	f.square.Submit(ctx, d, 3).OnComplete(func(int, error) {
		close(entered)
		<-release // holds the resolver
	})
	recv(t, entered)
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if id := recv(t, reported); id != "local-2" {
		t.Fatalf("report for %q", id)
	}
}
