package sockets_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// silentPeer accepts TCP connections and never answers the SP handshake,
// so that a Sync dial to it waits out the handshake time-out (10 s).
func silentPeer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return "tcp://" + ln.Addr().String()
}

// StartContext ends a Sync dial that waits on a silent peer: a deadline
// gives ErrTimedOut wrapping context.DeadlineExceeded, a cancellation
// ErrCanceled wrapping context.Canceled, and no dialer is left.
func TestStartContextEndsSyncDial(t *testing.T) {
	t.Parallel()
	url := silentPeer(t)
	s := open(t, sockets.Req)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Dial(url, sockets.Sync, sockets.StartContext(ctx))
	if !errors.Is(err, nanoact.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the dial waited %v past its deadline", d)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Dial(url, sockets.Sync, sockets.StartContext(ctx2))
		errc <- err
	}()
	cancel2()
	if err := <-errc; !errors.Is(err, nanoact.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	if n := len(s.Dialers()); n != 0 {
		t.Fatalf("%d dialers left", n)
	}

	// An ended ctx fails at once.
	if _, err := s.Dial(url, sockets.Sync, sockets.StartContext(ctx)); !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("ended ctx: %v", err)
	}

	// New with the Dial option fails the same way and closes its socket.
	ctx3, cancel3 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel3()
	if _, err := sockets.New(sockets.Req, sockets.Dial(url, sockets.Sync, sockets.StartContext(ctx3))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("New: %v", err)
	}
}

// Once the dial succeeded, its ctx ending does not end the dialer: the
// connection carries messages and the dialer stays.
func TestStartContextAfterSuccess(t *testing.T) {
	t.Parallel()
	rep := open(t, sockets.Rep)
	l, err := rep.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	req := open(t, sockets.Req)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := req.Dial(l.URL(), sockets.Sync, sockets.StartContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	tctx := ctxT(t)
	if err := req.Send(tctx, "ping"); err != nil {
		t.Fatal(err)
	}
	m, err := rep.RecvMsg(tctx)
	if err != nil {
		t.Fatal(err)
	}
	m.Free()
	if d.State() != sockets.Started || len(req.Dialers()) != 1 {
		t.Fatalf("dialer %v, %d dialers", d.State(), len(req.Dialers()))
	}
}

// Dialer.Start(Sync, StartContext(ctx)) of a Later dialer ends with ctx
// as Dial does, leaving the dialer not started; a later Start works, and
// once it succeeded its ctx ending does not end the connection.
func TestStartContextBoundsDialerStart(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Req)
	d, err := s.Dial(silentPeer(t), sockets.Later)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Start(sockets.Sync, sockets.StartContext(ctx)); !errors.Is(err, nanoact.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	if st := d.State(); st != sockets.NotStarted {
		t.Fatalf("state %v after an ended start", st)
	}
	if err := d.Start(sockets.Sync, sockets.StartContext(ctx)); !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("ended ctx: %v", err)
	}
	if err := d.Start(sockets.Async); err != nil {
		t.Fatalf("a later Start: %v", err)
	}

	rep := open(t, sockets.Rep)
	l, err := rep.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	req := open(t, sockets.Req)
	d2, err := req.Dial(l.URL(), sockets.Later)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	if err := d2.Start(sockets.Sync, sockets.StartContext(ctx2)); err != nil {
		t.Fatal(err)
	}
	cancel2()
	c := ctxT(t)
	if err := req.Send(c, "ping"); err != nil {
		t.Fatal(err)
	}
	if _, err := rep.Recv(c); err != nil {
		t.Fatalf("the connection ended with the start's ctx: %v", err)
	}
	if st := d2.State(); st != sockets.Started {
		t.Fatalf("state %v", st)
	}
}
