package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

func squareServer(t *testing.T, workers int) *rpc.Server {
	t.Helper()
	srv, err := rpc.NewServer(func(ctx context.Context, n int) (int, error) {
		switch {
		case n < 0:
			return 0, errors.New("negative")
		case n == 999:
			<-ctx.Done() // never answers in time
			return 0, ctx.Err()
		}
		return n * n, nil
	}, rpc.WithListen(fmt.Sprintf("inproc://square-%d", seq.Add(1))), rpc.WithWorkers(workers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func TestRequest(t *testing.T) {
	t.Parallel()
	// Three workers: the two requests for 999 below are sent at once and
	// each holds a worker until the server closes.
	srv := squareServer(t, 3)
	req := newReq(t, srv.URL())
	c, err := req.Context()
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	cv := aio.NewCV()
	if v, err := rpc.Request[int](c, 12, rpc.Signal(cv)).Value(ctx); err != nil || v != 144 {
		t.Fatalf("%v %v", v, err)
	}
	if cv.Value() != 1 {
		t.Fatalf("cv %d after one request", cv.Value())
	}
	// An error reply resolves to ErrRemote.
	_, err = rpc.Request[int](c, -1).Value(ctx)
	if !errors.Is(err, rpc.ErrRemote) {
		t.Fatalf("error reply: %v", err)
	}
	// Time-out, then Stop on a pending request.
	_, err = rpc.Request[int](c, 999, rpc.Timeout(30*time.Millisecond)).Value(ctx)
	if !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("time-out: %v", err)
	}
	a := rpc.Request[int](c, 999)
	a.Stop()
	if _, err := a.Value(ctx); !errors.Is(err, nanoact.ErrCanceled) {
		t.Fatalf("stop: %v", err)
	}
	// The context still works afterwards.
	if v, err := rpc.Request[int](c, 3).Value(ctx); err != nil || v != 9 {
		t.Fatalf("after stop: %v %v", v, err)
	}
}

func TestClient(t *testing.T) {
	t.Parallel()
	srv := squareServer(t, 8)
	cl, err := rpc.NewClient(sockets.Dial(srv.URL(), sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			v, err := rpc.Call[int](ctx, cl, i)
			if err != nil || v != i*i {
				t.Errorf("call %d: %v %v", i, v, err)
			}
		})
	}
	wg.Wait()
	if _, err := rpc.Call[int](ctx, cl, -5); !errors.Is(err, rpc.ErrRemote) {
		t.Fatalf("error reply: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := rpc.Call[int](short, cl, 999); !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("call time-out: %v", err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rpc.Call[int](ctx, cl, 2); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("call after close: %v", err)
	}
	if err := cl.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

// A nil option is ignored, as in aio, rather than panicking in the
// caller's goroutine.
func TestNilOption(t *testing.T) {
	t.Parallel()
	srv := squareServer(t, 1)
	cl, err := rpc.NewClient(sockets.Dial(srv.URL(), sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if v, err := rpc.Call[int](ctxT(t), cl, 3, nil, rpc.Timeout(10*time.Second)); err != nil || v != 9 {
		t.Fatalf("call with a nil option: %v %v", v, err)
	}
}

// A request that has to wait for a server to connect still reports the
// pipe its reply came on, so that ClosePipe can drop that server; stopped
// or timed out while it waits, it is never sent.
func TestRequestWaitingKnowsItsPipe(t *testing.T) {
	t.Parallel()
	url := fmt.Sprintf("inproc://late-server-%d", seq.Add(1))
	req, err := sockets.New(sockets.Req, sockets.Listen(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = req.Close() })
	c, err := req.Context()
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)

	stopped := rpc.Request[int](c, 4)
	stopped.Stop()
	if _, err := stopped.Result(); !errors.Is(err, nanoact.ErrCanceled) {
		t.Fatalf("stop: %v", err)
	}
	_, err = rpc.Request[int](c, 5, rpc.Timeout(20*time.Millisecond)).Value(ctx)
	if !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("time-out: %v", err)
	}
	_, err = rpc.Request[int](c, 6, rpc.Timeout(0)).Result()
	if !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("time-out 0: %v", err)
	}

	a := rpc.Request[int](c, 12)
	if a.Resolved() {
		t.Fatal("resolved with no server")
	}
	seen := make(chan int, 4)
	srv, err := rpc.NewServer(func(_ context.Context, n int) (int, error) {
		seen <- n
		return n * n, nil
	}, rpc.WithDial(url, sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if v, err := a.Value(ctx); err != nil || v != 144 {
		t.Fatalf("%v %v", v, err)
	}
	if n := <-seen; n != 12 {
		t.Fatalf("server got %d first", n)
	}
	if a.Pipe() == 0 {
		t.Fatal("no pipe recorded")
	}
	if err := req.ClosePipe(a.Pipe()); err != nil {
		t.Fatalf("ClosePipe(%d): %v", a.Pipe(), err)
	}
}

// The error reply's error says what happened once: one "rpc:" prefix,
// and that the handler either returned an error or panicked.
func TestErrRemoteSaysItOnce(t *testing.T) {
	t.Parallel()
	rep, err := sockets.New(sockets.Rep)
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	req, err := sockets.New(sockets.Req)
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	url := "inproc://" + t.Name()
	if _, err := rep.Listen(url); err != nil {
		t.Fatal(err)
	}
	if _, err := req.Dial(url); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() {
		done <- rpc.Reply(ctx, rep, func(_ context.Context, n int) (int, error) { return 0, errors.New("no") })
	}()
	_, err = rpc.Request[int](req, 1).Value(ctx)
	if !errors.Is(err, rpc.ErrRemote) {
		t.Fatalf("error reply: %v, want ErrRemote", err)
	}
	if msg := err.Error(); strings.Count(msg, "rpc:") != 1 || !strings.Contains(msg, "panicked") {
		t.Errorf("error reply reads %q", msg)
	}
	if herr := <-done; herr == nil || herr.Error() != "no" {
		t.Errorf("Reply returned %v, want the handler's error", herr)
	}
}

// NewClient's Sync dial ends with the ctx given by sockets.StartContext,
// here against a TCP peer that never answers the handshake.
func TestNewClientStartContext(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	defer func() {
		_ = ln.Close()
		for c := range accepted {
			_ = c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	c, err := rpc.NewClient(sockets.Dial("tcp://"+ln.Addr().String(), sockets.Sync, sockets.StartContext(ctx)))
	if err == nil {
		_ = c.Close()
		t.Fatal("NewClient succeeded against a silent peer")
	}
	if !errors.Is(err, nanoact.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("NewClient: %v", err)
	}
}
