package aio_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// collector spawns an actor that hands every Completed it gets to a
// channel.
func collector(t *testing.T, sys *actor.System) (*actor.Ref, <-chan aio.Completed) {
	t.Helper()
	ch := make(chan aio.Completed, 16)
	ref, err := sys.Spawn("", actor.ReceiveFunc(func(c *actor.Context) {
		if m, ok := c.Message().(aio.Completed); ok {
			ch <- m
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ref.Stop(context.Background()) })
	return ref, ch
}

func TestRefQuerySubscribeComplete(t *testing.T) {
	ctx := ctxT(t)
	sys := actor.NewSystem()
	defer sys.Close()
	push, pull := pushPull(t)
	r := aio.Recv[string](pull, aio.WithSystem(sys))
	ref, err := r.Ref()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Ref(); again != ref {
		t.Fatal("Ref spawned twice")
	}
	st, err := actor.RequestAs[aio.Status](ctx, ref, aio.Query{})
	if err != nil || st.Resolved {
		t.Fatalf("%+v, %v", st, err)
	}
	sub, got := collector(t, sys)
	if _, err := ref.Request(ctx, aio.Subscribe{To: sub}); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Request(ctx, aio.Subscribe{}); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(err)
	}
	_ = push.Send(ctx, "done")
	c := <-got
	if c.Aio != ref || c.Value != "done" || c.Err != nil || c.Pipe == 0 || c.Pipe != r.Pipe() {
		t.Fatalf("%+v", c)
	}
	// The actor stops itself after its one completion message.
	select {
	case <-ref.Done():
	case <-ctx.Done():
		t.Fatal("aio actor did not stop")
	}
	if _, err := ref.Request(ctx, aio.Query{}); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("Request after completion: %v, want ErrClosed", err)
	}
	select {
	case extra := <-got:
		t.Fatalf("second Completed %+v", extra)
	default:
	}
}

func TestRefCancel(t *testing.T) {
	ctx := ctxT(t)
	pull := open(t, sockets.Pull)
	r := aio.Recv[int](pull)
	ref, err := r.Ref() // on actor.Default()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Request(ctx, aio.Cancel{}); err != nil {
		t.Fatal(err)
	}
	_, err = r.Value(ctx)
	wantCode(t, err, nanoact.ErrCanceled)
	<-ref.Done()
}

func TestRefOnResolvedAio(t *testing.T) {
	pull := open(t, sockets.Pull)
	r := aio.Recv[int](pull, aio.Timeout(0))
	ref, err := r.Ref()
	if err != nil {
		t.Fatal(err)
	}
	<-ref.Done() // stops at once
	if _, err := r.Result(); !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatal(err)
	}
	closed := actor.NewSystem()
	_ = closed.Close()
	if _, err := aio.Recv[int](pull, aio.Timeout(0), aio.WithSystem(closed)).Ref(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
}
