package aio_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
)

func TestGo(t *testing.T) {
	ctx := ctxT(t)
	cv := aio.NewCV()
	a := aio.Go(func(context.Context) (int, error) { return 42, nil }, aio.Signal(cv))
	if v, err := a.Value(ctx); v != 42 || err != nil {
		t.Fatal(v, err)
	}
	if !cv.Until(time.Second) {
		t.Fatal("no signal")
	}
	boom := errors.New("boom")
	if _, err := aio.Go(func(context.Context) (int, error) { return 0, boom }).Value(ctx); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	// Stop cancels fn's context.
	started := make(chan struct{})
	b := aio.Go(func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, nanoact.FromContext(ctx, "test")
	})
	<-started
	b.Stop()
	_, err := b.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	// Timeout bounds it.
	c := aio.Go(func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, nanoact.FromContext(ctx, "test")
	}, aio.Timeout(5*time.Millisecond))
	_, err = c.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	// Timeout(0) runs fn at once under an expired context.
	d := aio.Go(func(ctx context.Context) (bool, error) { return ctx.Err() != nil, nil }, aio.Timeout(0))
	if v, _ := d.Result(); !v {
		t.Fatal("Timeout(0) context not expired")
	}
	_, err = aio.Go[int](nil).Value(ctx)
	wantCode(t, err, nanoact.ErrInvalid)
}

func TestNewPending(t *testing.T) {
	ctx := ctxT(t)
	a, resolve := aio.NewPending[string](func() { t.Error("onStop after resolve") })
	if a.Resolved() {
		t.Fatal("resolved at birth")
	}
	go resolve("done", nil)
	if v, err := a.Value(ctx); v != "done" || err != nil {
		t.Fatal(v, err)
	}
	resolve("again", nil) // ignored
	a.Stop()              // keeps the result, no onStop
	if v, _ := a.Result(); v != "done" {
		t.Fatal(v)
	}

	var stops atomic.Int32
	b, resolveB := aio.NewPending[int](func() { stops.Add(1) })
	b.Stop()
	b.Stop()
	_, err := b.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	resolveB(1, nil) // too late
	if _, err := b.Result(); !errors.Is(err, nanoact.ErrCanceled) || stops.Load() != 1 {
		t.Fatal(err, stops.Load())
	}

	cv := aio.NewCV()
	c, _ := aio.NewPending[int](func() { stops.Add(1) }, aio.Timeout(5*time.Millisecond), aio.Signal(cv))
	_, err = c.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if !cv.Until(time.Second) || stops.Load() != 2 {
		t.Fatal("time-out did not signal or tell the owner")
	}

	// Cancel through the aio's actor.
	d, _ := aio.NewPending[int](nil)
	ref, err := d.Ref()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Request(ctx, aio.Cancel{}); err != nil {
		t.Fatal(err)
	}
	_, err = d.Value(ctx)
	wantCode(t, err, nanoact.ErrCanceled)
	<-ref.Done()
}

// owner is an aio.Owner that counts its Stopped calls and wraps the
// error.
type owner struct{ stops atomic.Int32 }

var errWrapped = errors.New("wrapped by the owner")

func (o *owner) Stopped(err error) error {
	o.stops.Add(1)
	return errors.Join(err, errWrapped)
}

// A NewOwned aio resolves through its Resolver, first call wins; Stop and
// a Timeout ask the owner, once, for the error to resolve with.
func TestNewOwned(t *testing.T) {
	ctx := ctxT(t)
	o := &owner{}
	a, r := aio.NewOwned[string](o)
	if a.Resolved() {
		t.Fatal("resolved at birth")
	}
	go r.Resolve("done", nil)
	if v, err := a.Value(ctx); v != "done" || err != nil {
		t.Fatal(v, err)
	}
	r.Resolve("again", nil) // ignored
	a.Stop()                // keeps the result, no Stopped
	if v, _ := a.Result(); v != "done" || o.stops.Load() != 0 {
		t.Fatal(v, o.stops.Load())
	}

	b, rb := aio.NewOwned[int](o)
	b.Stop()
	b.Stop()
	rb.Resolve(1, nil) // too late
	_, err := b.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	if !errors.Is(err, errWrapped) || !errors.Is(err, context.Canceled) || o.stops.Load() != 1 {
		t.Fatal(err, o.stops.Load())
	}

	c, _ := aio.NewOwned[int](o, aio.Timeout(5*time.Millisecond))
	_, err = c.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, errWrapped) || o.stops.Load() != 2 {
		t.Fatal(err, o.stops.Load())
	}
}

// job embeds its aio (aio.Owned) and is its owner.
type job struct {
	aio.Owned[int]
	owner // counts Stopped, wraps the error
	n     int
}

// An Owned aio embedded in its owner behaves as a NewOwned one: Resolve
// first wins, Stop, Cancel (Ref) and a Timeout ask the owner, once, for
// the error; callbacks run.
func TestOwned(t *testing.T) {
	ctx := ctxT(t)
	j := &job{}
	a := j.Init(j)
	if a != j.Aio() || a.Resolved() {
		t.Fatal("Init and Aio differ, or resolved at birth")
	}
	var got atomic.Int32
	a.OnComplete(func(v int, err error) { got.Add(int32(v)) })
	a.OnComplete(func(v int, err error) { got.Add(int32(v)) })
	go j.Resolve(21, nil)
	if v, err := a.Value(ctx); v != 21 || err != nil {
		t.Fatal(v, err)
	}
	if j.Resolve(1, nil) { // too late
		t.Fatal("a second Resolve won")
	}
	a.Stop() // keeps the result, no Stopped
	if v, _ := a.Result(); v != 21 || j.stops.Load() != 0 || got.Load() != 42 {
		t.Fatal(v, j.stops.Load(), got.Load())
	}

	b := &job{}
	b.Init(b).Stop()
	if b.Resolve(1, nil) {
		t.Fatal("Resolve won after Stop")
	}
	_, err := b.Aio().Result()
	wantCode(t, err, nanoact.ErrCanceled)
	if !errors.Is(err, errWrapped) || b.stops.Load() != 1 {
		t.Fatal(err, b.stops.Load())
	}

	c := &job{}
	_, err = c.Init(c, aio.Timeout(5*time.Millisecond)).Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, errWrapped) || c.stops.Load() != 1 {
		t.Fatal(err, c.stops.Load())
	}

	d := &job{}
	ref, err := d.Init(d).Ref()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Request(ctx, aio.Cancel{}); err != nil {
		t.Fatal(err)
	}
	_, err = d.Aio().Value(ctx)
	wantCode(t, err, nanoact.ErrCanceled)
	<-ref.Done()
}

// An owner that does not embed the Owned it inits (here one Owned given
// another value as owner) still hears of Stop.
func TestOwnedOtherOwner(t *testing.T) {
	var o aio.Owned[string]
	w := &owner{}
	a := o.Init(w)
	a.Stop()
	_, err := a.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	if !errors.Is(err, errWrapped) || w.stops.Load() != 1 {
		t.Fatal(err, w.stops.Load())
	}
	// A job that embeds one Owned but inits it with another owner.
	j, other := &job{}, &job{}
	j.Init(other).Stop()
	if j.stops.Load() != 0 || other.stops.Load() != 1 {
		t.Fatal(j.stops.Load(), other.stops.Load())
	}
}

// An owner that embeds its aio takes one allocation, the aio included.
func TestOwnedOneAllocation(t *testing.T) {
	var keep *job
	n := testing.AllocsPerRun(100, func() {
		keep = &job{}
		keep.Init(keep)
	})
	if n != 1 {
		t.Errorf("Owned: %v allocations, want 1", n)
	}
	keep.Aio().Stop()
}
