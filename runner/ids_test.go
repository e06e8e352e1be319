package runner_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
)

// A second daemon saying hello with the id of one still connected takes
// the id over: the old connection leaves as a lost daemon (a task
// running there with Requeue runs again on the new one, one without
// fails as possibly run), the takeover is logged once at Warn with both
// peers and counted, and OnDaemon and every later task reach the new
// connection. The old daemon, still live here, is told and stops with
// ErrReplaced, its tasks cancelled.
func TestDuplicateDaemonIDTakesOver(t *testing.T) {
	t.Parallel()
	f := newFixture()
	core, logs := observer.New(zap.WarnLevel)
	d, _ := newDispatcher(t, f, 0, runner.WithLogger(zap.New(core)))
	first, firstDone := runDaemon(t, d, f.reg, runner.WithDaemonID("dup"), runner.WithConcurrency(2))
	ctx := ctxT(t)
	again := f.hold.Submit(ctx, d, 1, runner.Requeue(1))
	lost := f.hold.Submit(ctx, d, 2)
	for range 2 {
		recv(t, f.g.started)
	}
	s := status(t, d)
	if len(s.Daemons) != 1 || s.Executing != 2 {
		t.Fatalf("status before the takeover %+v", s)
	}
	oldPipe := s.Daemons[0].Pipe

	second, _ := runDaemon(t, d, f.reg, runner.WithDaemonID("dup"))
	err := recv(t, firstDone)
	if !errors.Is(err, runner.ErrReplaced) {
		t.Fatalf("first daemon's Run: %v, want ErrReplaced", err)
	}
	if _, err := lost.Value(ctx); !errors.Is(err, nanoact.ErrConnReset) || !errors.Is(err, runner.ErrMayHaveRun) {
		t.Fatalf("task lost with the old connection: %v, want ErrConnReset, ErrMayHaveRun", err)
	}
	if n := recv(t, f.g.started); n != 1 {
		t.Fatalf("started %d on the new connection, want the re-queued 1", n)
	}
	f.g.open()
	if v, err := again.Value(ctx); err != nil || v != 1 {
		t.Fatalf("re-queued task: %v %v", v, err)
	}
	if c, _ := f.runs.Load(1); c.(*atomic.Int64).Load() != 2 {
		t.Fatalf("re-queued task ran %d times, want 2", c.(*atomic.Int64).Load())
	}
	// Every task goes to the new connection: none is sent to the old one
	// and lost (none of these may be re-queued).
	for i := range 20 {
		if v, err := f.square.Submit(ctx, d, i, runner.OnDaemon("dup")).Value(ctx); err != nil || v != i*i {
			t.Fatalf("OnDaemon(dup) %d after the takeover: %v %v", i, v, err)
		}
	}
	s = status(t, d)
	if s.Connections != 1 || s.Replaced != 1 || s.Lost != 1 || s.Requeued != 1 || s.Refused != 0 ||
		s.Failed != 1 || s.Completed != 21 || s.Executing != 0 || s.Queued != 0 || len(s.Daemons) != 2 {
		t.Fatalf("status after the takeover %+v", s)
	}
	on, off := s.Daemons[0], s.Daemons[1]
	if !on.Online || on.ID != "dup" || on.Pipe == oldPipe || on.Completed != 21 ||
		off.Online || off.ID != "dup" || off.Pipe != oldPipe || off.Left.IsZero() {
		t.Fatalf("daemons %+v", s.Daemons)
	}
	took := logs.FilterMessageSnippet("daemon id taken over")
	if took.Len() != 1 || logs.Len() != took.Len()+logs.FilterMessage("daemon lost mid-task").Len() {
		t.Fatalf("logged %v", logs.All())
	}
	fields := took.All()[0].ContextMap()
	if fields["daemon"] != "dup" || fields["old_pipe"] != oldPipe || fields["old_remote"] == "" || fields["remote"] == "" {
		t.Fatalf("takeover logged with %v", fields)
	}

	// The old connection's removal, which follows, leaves the new one
	// alone: it stays the daemon that runs tasks.
	if err := first.Close(); err != nil && !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
	if v, err := f.square.Submit(ctx, d, 7).Value(ctx); err != nil || v != 49 {
		t.Fatalf("after the old connection's removal: %v %v", v, err)
	}
	if s := status(t, d); s.Connections != 1 || s.Replaced != 1 {
		t.Fatalf("status at the end %+v", s)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
}

// Two live daemons started under one id: the newer takes the id over and
// the dispatcher tells the older one, whose Run returns ErrReplaced (a
// CodeExists error naming the id, not ErrPeerAuth) instead of redialing
// and taking the id back, as each did from the other on every redial
// before. The newer stays joined and runs every task, and the takeover
// is counted and logged once, not again and again.
// Over inproc and tcp: the refusal must reach the older daemon before its
// connection closes.
func TestDuplicateDaemonIDsOlderStops(t *testing.T) {
	t.Parallel()
	for _, tr := range []struct{ name, url string }{{"inproc", ""}, {"tcp", "tcp://127.0.0.1:0"}} {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			olderStops(t, tr.url)
		})
	}
}

func olderStops(t *testing.T, url string) {
	f := newFixture()
	core, logs := observer.New(zap.WarnLevel)
	d, err := runner.NewDispatcher(url, runner.WithRegistry(f.reg), runner.WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	fast := runner.WithReconnectInterval(10 * time.Millisecond)
	a, aDone := runDaemon(t, d, f.reg, runner.WithDaemonID("twin"), fast)
	aPipe := status(t, d).Daemons[0].Pipe
	_, bDone := runDaemon(t, d, f.reg, runner.WithDaemonID("twin"), fast)
	err = recv(t, aDone)
	var ne *nanoact.Error
	if !errors.Is(err, runner.ErrReplaced) || !errors.As(err, &ne) || ne.Code != nanoact.CodeExists ||
		errors.Is(err, nanoact.ErrPeerAuth) || !strings.Contains(err.Error(), `daemon id "twin" taken over by a newer connection from `) {
		t.Fatalf("older daemon's Run: %v, want ErrReplaced (CodeExists) naming the id", err)
	}
	ctx := ctxT(t)
	for i := range 10 {
		if v, err := f.square.Submit(ctx, d, i, runner.OnDaemon("twin")).Value(ctx); err != nil || v != i*i {
			t.Fatalf("OnDaemon(twin) %d: %v %v", i, v, err)
		}
	}
	// The older one's socket, still open until its Close, does not
	// come back; once closed, its connection's removal changes nothing.
	if err := a.Close(); err != nil && !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
	if v, err := f.square.Submit(ctx, d, 7, runner.OnDaemon("twin")).Value(ctx); err != nil || v != 49 {
		t.Fatalf("OnDaemon(twin) after the older one closed: %v %v", v, err)
	}
	s := status(t, d)
	if s.Connections != 1 || s.Replaced != 1 || s.Refused != 0 || s.Completed != 11 || len(s.Daemons) != 2 ||
		!s.Daemons[0].Online || s.Daemons[0].Pipe == aPipe || s.Daemons[1].Online || s.Daemons[1].Pipe != aPipe {
		t.Fatalf("status %+v", s)
	}
	if n := logs.FilterMessageSnippet("daemon id taken over").Len(); n != 1 {
		t.Fatalf("takeover logged %d times", n)
	}
	select {
	case err := <-bDone:
		t.Fatalf("the newer daemon stopped: %v", err)
	default:
	}
}

// Two launchers on one dispatcher give their daemons distinct ids, so
// that OnDaemon reaches the one asked for and the interrupt kill finds
// its process: a task that ignores its cancel on the second launcher's
// daemon costs that process, which is replaced.
func TestLaunchersUniqueIDs(t *testing.T) {
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
	onExit := runner.WithOnExit(func(p *runner.Proc) { exited <- p })
	l1, err := d.LaunchLocal(1, append(launchSelf(&out), onExit)...)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := d.LaunchLocal(1, append(launchSelf(&out), onExit)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxProc(t)
	if err := d.WaitDaemons(ctx, 2); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	p1, p2 := l1.Procs()[0], l2.Procs()[0]
	if p1.ID == p2.ID || !strings.HasPrefix(p1.ID, "launch-") || !strings.HasPrefix(p2.ID, "launch-") {
		t.Fatalf("ids %q and %q", p1.ID, p2.ID)
	}
	if pid, err := runner.Submit[int](ctx, d, "pid", struct{}{}, runner.OnDaemon(p2.ID)).Value(ctx); err != nil || pid != p2.Pid() {
		t.Fatalf("OnDaemon(%s): pid %d %v, want %d", p2.ID, pid, err, p2.Pid())
	}
	a := runner.Submit[int](ctx, d, "spin", 0, runner.OnDaemon(p2.ID))
	waitStatus(t, d, func(s runner.Status) bool { return s.Executing == 1 })
	a.Stop()
	if p := recv(t, exited); p != p2 {
		t.Fatalf("exited %s (%d), want %s (%d) killed", p.ID, p.Pid(), p2.ID, p2.Pid())
	}
	// Its replacement, started by its own launcher under a fresh id, joins.
	waitUntil(t, func() string { return "no replacement process" }, func() bool { return len(l2.Procs()) == 2 })
	np := l2.Procs()[1]
	if np.ID == p1.ID || np.ID == p2.ID {
		t.Fatalf("replacement id %q", np.ID)
	}
	waitStatus(t, d, func(s runner.Status) bool {
		for _, ds := range s.Daemons {
			if ds.ID == np.ID && ds.Online {
				return s.Connections == 2
			}
		}
		return false
	})
	for _, p := range []*runner.Proc{p1, np} {
		if pid, err := runner.Submit[int](ctx, d, "pid", struct{}{}, runner.OnDaemon(p.ID)).Value(ctx); err != nil || pid != p.Pid() {
			t.Fatalf("OnDaemon(%s): pid %d %v, want %d", p.ID, pid, err, p.Pid())
		}
	}
}
