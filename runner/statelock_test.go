package runner_test

import (
	"context"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
)

// A task the dispatcher fails itself (its daemon lost mid-task) resolves
// outside the dispatcher's state lock: its callbacks may Submit, and the
// dispatcher goes on.
func TestCallbackSubmitsWhenDaemonLost(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, dms := newDispatcher(t, f, 1)
	ctx := ctxT(t)
	a := f.hold.Submit(ctx, d, 1)
	recv(t, f.g.started)
	next := make(chan *aio.Aio[int], 1)
	a.OnComplete(func(_ int, err error) {
		if nanoact.CodeOf(err) != nanoact.CodeConnReset {
			t.Errorf("lost task: %v", err)
		}
		next <- f.square.Submit(ctx, d, 3)
	})
	_ = dms[0].Close() // abruptly, as a crash
	b := recv(t, next)
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Value(ctx); err != nil || v != 9 {
		t.Fatalf("task submitted from the callback: %v %v", v, err)
	}
}
