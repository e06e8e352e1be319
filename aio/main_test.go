package aio_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// No exception is needed: an aio's goroutine exits once it has resolved,
// PipeNotify and Monitor end theirs on stop or when the socket closes, and
// the actor system and promise loop have no goroutine while idle.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var seq atomic.Int64

func inprocURL() string { return fmt.Sprintf("inproc://aio-test-%d", seq.Add(1)) }

func open(t testing.TB, p sockets.Protocol, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.New(p, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", p, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// connect makes l listen on url (inproc if empty) and d dial it, and waits
// until l has the connection, using PipeNotify.
func connect(t testing.TB, l, d *sockets.Socket, url string) {
	t.Helper()
	if url == "" {
		url = inprocURL()
	}
	ln, err := l.Listen(url)
	if err != nil {
		t.Fatalf("listen %s: %v", url, err)
	}
	dialTo(t, l, d, ln.URL())
}

// dialTo makes d dial url, which l listens on, and waits until l's
// protocol engine counts the new connection. PipeNotify's signals wake the
// wait, but do not end it: the connections l already had are reported to
// a new watcher too, and maybe after the dial.
func dialTo(t testing.TB, l, d *sockets.Socket, url string) {
	t.Helper()
	cv := aio.NewCV()
	stop, err := aio.PipeNotify(l, cv, aio.PipeAdd)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	before := l.Pipes()
	if _, err := d.Dial(url, sockets.Sync); err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ctx := ctxT(t)
	for l.Pipes() <= before {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		cv.Wait(wctx)
		cancel()
		if ctx.Err() != nil {
			t.Fatal("no connection")
		}
	}
}

func pushPull(t testing.TB) (push, pull *sockets.Socket) {
	t.Helper()
	pull = open(t, sockets.Pull)
	push = open(t, sockets.Push)
	connect(t, pull, push, "")
	return push, pull
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t testing.TB, err error, target *nanoact.Error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}
