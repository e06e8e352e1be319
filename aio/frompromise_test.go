package aio_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/promises"
)

// Promises join aios in Wait, Collect and Race.
func TestFromPromise(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, resolve, _ := promises.NewResolver[int](nil)
	q, _, reject := promises.NewResolver[int](nil)
	a, b := aio.FromPromise(p), aio.FromPromise(q)
	if !aio.Unresolved(a, b) {
		t.Fatal("resolved before the promises settled")
	}
	go resolve(7)
	i, err := aio.Race(ctx, a, b)
	if err != nil || i != 0 {
		t.Fatalf("race %d %v", i, err)
	}
	if v, err := aio.Collect(ctx, a); err != nil || v != 7 {
		t.Fatalf("collect %v %v", v, err)
	}
	reject(nanoact.ErrTimedOut)
	if _, err := b.Value(ctx); !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("rejection %v", err)
	}
	c := aio.FromPromise(promises.New[int](nil, func(func(int), func(error)) {}))
	c.Stop()
	if _, err := c.Value(ctx); !errors.Is(err, nanoact.ErrCanceled) {
		t.Fatalf("stop %v", err)
	}
}
