package aio_test

import (
	"context"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// streamPair connects two byte streams over loopback tcp.
func streamPair(t *testing.T) (client, server *sockets.Stream) {
	t.Helper()
	l, err := sockets.ListenStream("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	accepted := aio.Go(func(ctx context.Context) (*sockets.Stream, error) { return l.Accept(ctx) })
	c, err := sockets.DialStream(ctx, l.URL())
	if err != nil {
		t.Fatal(err)
	}
	s, err := accepted.Value(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c, s
}

// A stream is a Conn without an asynchronous receive: its aios wait on a
// goroutine of their own, with the same results, time-outs and Stop.
func TestAioOnStream(t *testing.T) {
	c, s := streamPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	r := aio.Recv[string](s, aio.Mode(sockets.String))
	if !aio.Unresolved(r) {
		t.Fatal("resolved before anything was sent")
	}
	if _, err := aio.Send(c, "hello", aio.Mode(sockets.Raw)).Value(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Value(ctx); err != nil || v != "hello" {
		t.Fatalf("%q %v", v, err)
	}

	late := aio.Recv[[]byte](s, aio.Timeout(20*time.Millisecond))
	_, err := late.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)

	stopped := aio.Recv[[]byte](s)
	stopped.Stop()
	_, err = stopped.Result()
	wantCode(t, err, nanoact.ErrCanceled)
}
