package runner_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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

// The dispatcher's lines about a daemon carry its peer's address: refused,
// joined and left.
func TestDaemonLinesCarryRemote(t *testing.T) {
	t.Parallel()
	f := newFixture()
	core, logs := observer.New(zap.InfoLevel)
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0", runner.WithRegistry(f.reg), runner.WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	if err := runner.RunDaemon(ctx, f.reg, d.URL(), runner.WithToken("guessed"), runner.WithDaemonID("intruder")); !errors.Is(err, nanoact.ErrPeerAuth) {
		t.Fatalf("intruder: %v", err)
	}
	dctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runner.RunDaemon(dctx, f.reg, d.URL(), runner.WithToken(d.Token()), runner.WithDaemonID("friend"))
	}()
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	for _, msg := range []string{"daemon refused", "daemon joined", "daemon left"} {
		var lines []observer.LoggedEntry
		deadline := time.Now().Add(10 * time.Second)
		for len(lines) == 0 && time.Now().Before(deadline) {
			lines = logs.FilterMessage(msg).All()
			if len(lines) == 0 {
				time.Sleep(5 * time.Millisecond) // polling: no event for a log line
			}
		}
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
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	core, logs := observer.New(zap.InfoLevel)
	ctx := ctxT(t)
	url := d.URL()
	dctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runner.RunDaemon(dctx, f.reg, url, runner.WithToken(d.Token()), runner.WithLogger(zap.New(core)),
			runner.WithReconnectInterval(10*time.Millisecond))
	}()
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := d.Socket().Listeners()[0].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Listen(url); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("connected").Len() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling: no event for a log line
	}
	lost := logs.FilterMessage("connection lost; redialing").All()
	if len(lost) != 1 || lost[0].ContextMap()["remote"] != strings.TrimPrefix(url, "tcp://") {
		t.Fatalf("lost lines %v", lost)
	}
	cancel()
	<-done
}
