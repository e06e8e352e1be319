package runner_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"

	"github.com/nanoact/nanoact/internal/testkit/slogrec"
	"github.com/nanoact/nanoact/runner"
)

// WithSlog sends the dispatcher's log lines to a slog handler.
func TestWithSlog(t *testing.T) {
	t.Parallel()
	rec, sl := slogrec.New(slog.LevelInfo)
	d, err := runner.NewDispatcher("", runner.WithRegistry(newFixture().reg), runner.WithSlog(sl))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lines := rec.Lines("dispatcher listening")
	if len(lines) != 1 || lines[0].Attrs["url"].String() != d.URL() || lines[0].Attrs["logger"].String() != "runner" {
		t.Fatalf("lines %+v", rec.Lines(""))
	}
}

// tcpDispatcher opens a dispatcher on tcp with f's registry; the test
// closes it.
func tcpDispatcher(t *testing.T, f *fixture, opts ...runner.DispatcherOption) *runner.Dispatcher {
	t.Helper()
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0", append([]runner.DispatcherOption{runner.WithRegistry(f.reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// runFriend runs a daemon with d's token until the returned stop (also
// called at cleanup; idempotent), which waits for it to end; it returns
// once the daemon has joined.
func runFriend(t *testing.T, f *fixture, d *runner.Dispatcher, opts ...runner.DaemonOption) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runner.RunDaemon(ctx, f.reg, d.URL(), append([]runner.DaemonOption{runner.WithToken(d.Token())}, opts...)...)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	if err := d.WaitDaemons(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	return stop
}

// waitLogged polls until logs hold at least n lines with msg (no event
// marks a log line written), for at most 10 s, and returns them.
func waitLogged(logs *observer.ObservedLogs, msg string, n int) []observer.LoggedEntry {
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage(msg).Len() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return logs.FilterMessage(msg).All()
}

// The dispatcher's lines about a daemon carry its peer's address: refused,
// joined and left.
func TestDaemonLinesCarryRemote(t *testing.T) {
	t.Parallel()
	f := newFixture()
	core, logs := observer.New(zap.InfoLevel)
	d := tcpDispatcher(t, f, runner.WithLogger(zap.New(core)))
	if err := runner.RunDaemon(ctxT(t), f.reg, d.URL(), runner.WithToken("guessed")); !errors.Is(err, nanoact.ErrPeerAuth) {
		t.Fatalf("intruder: %v", err)
	}
	runFriend(t, f, d)()
	for _, msg := range []string{"daemon refused", "daemon joined", "daemon left"} {
		lines := waitLogged(logs, msg, 1)
		if len(lines) != 1 {
			t.Fatalf("%s: %d lines: %v", msg, len(lines), logs.All())
		}
		r, _ := lines[0].ContextMap()["remote"].(string)
		if !strings.HasPrefix(r, "127.0.0.1:") || r == strings.TrimPrefix(d.URL(), "tcp://") {
			t.Fatalf("%s: remote %q (dispatcher at %s)", msg, r, d.URL())
		}
	}
}

// A daemon's lost connection is logged once at Info, with the peer's
// address (by its socket); the runner's own line about it is Debug.
func TestDaemonLossLoggedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d := tcpDispatcher(t, f)
	core, logs := observer.New(zap.InfoLevel)
	runFriend(t, f, d, runner.WithLogger(zap.New(core)), runner.WithReconnectInterval(10*time.Millisecond))
	url := d.URL()
	if err := d.Socket().Listeners()[0].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Listen(url); err != nil {
		t.Fatal(err)
	}
	waitLogged(logs, "connected", 2)
	lost := logs.FilterMessage("connection lost; redialing").All()
	if len(lost) != 1 || lost[0].ContextMap()["remote"] != strings.TrimPrefix(url, "tcp://") {
		t.Fatalf("lost lines %v", lost)
	}
}
