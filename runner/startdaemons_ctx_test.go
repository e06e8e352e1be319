package runner_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/sockets"
)

// StartDaemons' ctx ends its wait for the hellos: cancelled while the
// daemons' connections are refused (by their own pipe veto), it returns
// an error matching ErrCanceled and context.Canceled, with the daemons it
// started; they stay the dispatcher's, join once admitted, and stop
// with Close (TestMain's goleak checks nothing is left running).
func TestStartDaemonsCanceled(t *testing.T) {
	t.Parallel()
	d, _ := newDispatcher(t, newFixture(), 0)
	held := make(chan struct{})
	var once sync.Once
	var admit atomic.Bool
	hold := runner.WithSocketOptions(sockets.WithPipeVeto(func(*sockets.Pipe) error {
		if admit.Load() {
			return nil
		}
		once.Do(func() { close(held) })
		return errors.New("held back by the test")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		dms []*runner.Daemon
		err error
	}
	res := make(chan result, 1)
	go func() {
		dms, err := d.StartDaemons(ctx, 2, hold)
		res <- result{dms, err}
	}()
	<-held // a daemon's connection was refused: no hello yet
	cancel()
	r := <-res
	if !errors.Is(r.err, nanoact.ErrCanceled) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("StartDaemons: %v, want ErrCanceled wrapping context.Canceled", r.err)
	}
	// ctx bounds the dials as well: the cancel may land during the first
	// daemon's dial (the veto refuses inside it), before the second's, or
	// after both.
	if len(r.dms) > 2 {
		t.Fatalf("%d daemons returned, want those started", len(r.dms))
	}
	if n := d.Daemons(); n != 0 {
		t.Fatalf("%d daemons joined through a held connection", n)
	}
	admit.Store(true) // their dialers redial
	if err := d.WaitDaemons(ctxT(t), len(r.dms)); err != nil {
		t.Fatalf("the daemons did not join once let through: %v", err)
	}
	if err := d.Close(); err != nil { // waits for its daemons to end
		t.Fatal(err)
	}
}
