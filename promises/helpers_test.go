package promises_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/promises"
)

// newLoop returns a loop closed when the test ends.
func newLoop(t testing.TB, opts ...promises.Option) *promises.Loop {
	t.Helper()
	l, err := promises.NewLoop(opts...)
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil && !errors.Is(err, nanoact.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// await returns p's value, failing the test if p rejects or takes too long.
func await[T any](t testing.TB, p *promises.Promise[T]) T {
	t.Helper()
	v, err := p.Await(testCtx(t))
	if err != nil {
		t.Fatalf("Await: %v", err)
	}
	return v
}

// awaitErr returns p's rejection, failing the test if p fulfils.
func awaitErr[T any](t testing.TB, p *promises.Promise[T]) error {
	t.Helper()
	v, err := p.Await(testCtx(t))
	if err == nil {
		t.Fatalf("Await = %v, nil; want an error", v)
	}
	return err
}

// goid returns the id of the calling goroutine, parsed from the first line
// of its stack ("goroutine 123 [running]:").
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := bytes.Fields(buf[:n])
	if len(f) < 2 {
		panic("goid: unexpected stack " + string(buf[:n]))
	}
	id, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		panic("goid: " + err.Error())
	}
	return id
}

// isCode reports whether err carries code c.
func wantCode(t testing.TB, err error, target *nanoact.Error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v does not match %v", err, target)
	}
}
