package runner_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/sockets"
)

// An already-ended ctx starts no daemon.
func TestStartDaemonsEndedCtx(t *testing.T) {
	t.Parallel()
	d, _ := newDispatcher(t, newFixture(), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dms, err := d.StartDaemons(ctx, 2)
	if !errors.Is(err, nanoact.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("StartDaemons: %v, want ErrCanceled wrapping context.Canceled", err)
	}
	if len(dms) != 0 {
		t.Fatalf("%d daemons started under an ended ctx", len(dms))
	}
	if s := status(t, d); s.Connections != 0 || len(s.Daemons) != 0 {
		t.Fatalf("status %+v", s)
	}
}

// StartDaemons' ctx bounds a daemon's dial: the dispatcher's listener
// accepts nothing while its pipe veto holds the first connection, so the
// second daemon's dial waits; cancelled then, StartDaemons returns at
// once with ErrCanceled and at most the first daemon, which joins once
// the veto lets it through (and is stopped by Close; TestMain's goleak
// checks that nothing is left).
func TestStartDaemonsCanceledDial(t *testing.T) {
	t.Parallel()
	held, release := make(chan struct{}), make(chan struct{})
	var once, relOnce sync.Once
	veto := runner.WithSocketOptions(sockets.WithPipeVeto(func(*sockets.Pipe) error {
		once.Do(func() { close(held) })
		<-release
		return nil
	}))
	f := newFixture()
	d, _ := newDispatcher(t, f, 0, veto)
	t.Cleanup(func() { relOnce.Do(func() { close(release) }) }) // before the dispatcher's Close
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		dms []*runner.Daemon
		err error
	}
	res := make(chan result, 1)
	go func() {
		dms, err := d.StartDaemons(ctx, 2)
		res <- result{dms, err}
	}()
	<-held // the first connection is held: the listener accepts no other
	cancel()
	r := recv(t, res)
	if !errors.Is(r.err, nanoact.ErrCanceled) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("StartDaemons: %v, want ErrCanceled wrapping context.Canceled", r.err)
	}
	// The first daemon's dial had connected when the veto took its
	// connection; it is returned unless the cancel came before its Dial
	// returned (a dial that ctx ends as it succeeds is undone). The second
	// never is.
	if len(r.dms) > 1 {
		t.Fatalf("%d daemons returned, want at most the first", len(r.dms))
	}
	relOnce.Do(func() { close(release) })
	if len(r.dms) == 1 {
		if err := d.WaitDaemons(ctxT(t), 1); err != nil {
			t.Fatalf("the first daemon did not join once let through: %v", err)
		}
		if v, err := f.square.Submit(ctxT(t), d, 4, runner.OnDaemon(r.dms[0].ID())).Value(ctxT(t)); err != nil || v != 16 {
			t.Fatal(v, err)
		}
	}
	if err := d.Close(); err != nil { // waits for its daemons (goleak checks)
		t.Fatal(err)
	}
}
