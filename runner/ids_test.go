package runner_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
)

// A second daemon saying hello with the id of one already connected is
// refused: its Run ends with ErrPeerAuth naming the cause, it is counted
// and logged once, and the first goes on; once the first has gone, the
// id is free again.
func TestDuplicateDaemonIDRefused(t *testing.T) {
	t.Parallel()
	f := newFixture()
	core, logs := observer.New(zap.WarnLevel)
	d, _ := newDispatcher(t, f, 0, runner.WithLogger(zap.New(core)))
	first, firstDone := runDaemon(t, d, f.reg, runner.WithDaemonID("dup"))

	dm, err := runner.NewDaemon(f.reg, d.URL(), runner.WithToken(d.Token()), runner.WithDaemonID("dup"))
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	err = dm.Run(ctxT(t))
	if !errors.Is(err, nanoact.ErrPeerAuth) || !strings.Contains(err.Error(), `"dup" already connected`) {
		t.Fatalf("second daemon dup: %v, want ErrPeerAuth: already connected", err)
	}
	s := status(t, d)
	if s.Connections != 1 || s.Refused != 1 || len(s.Daemons) != 1 {
		t.Fatalf("status %+v", s)
	}
	if n := logs.FilterMessage("daemon refused").Len(); n != 1 {
		t.Fatalf("refusal logged %d times", n)
	}
	if v, err := f.square.Submit(ctxT(t), d, 3, runner.OnDaemon("dup")).Value(ctxT(t)); err != nil || v != 9 {
		t.Fatalf("the first dup after the refusal: %v %v", v, err)
	}

	// The first leaves: its id may join again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	<-firstDone
	waitStatus(t, d, func(s runner.Status) bool { return s.Connections == 0 })
	runDaemon(t, d, f.reg, runner.WithDaemonID("dup"))
	if s := status(t, d); s.Connections != 1 || s.Refused != 1 {
		t.Fatalf("status after the rejoin %+v", s)
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
