package sockets_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// Stat on a closed socket says it is closed, as NNG's nng_stats_get on a
// closed socket does, instead of reporting stale numbers.
func TestStatClosedSocket(t *testing.T) {
	t.Parallel()
	s, err := sockets.New(sockets.Pair)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat("pipes"); err != nil {
		t.Fatalf("Stat on an open socket: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	v, err := s.Stat("pipes")
	wantCode(t, err, nanoact.ErrClosed)
	if v != 0 {
		t.Fatalf("Stat after Close = %d, want 0 with the error", v)
	}
}

// A zero-value TLSConfig is refused with ErrInvalid wherever it is given,
// and the socket stays open and usable: the refusal is not reported as a
// closed socket.
func TestTLSZeroConfigInvalid(t *testing.T) {
	t.Parallel()
	zero := &sockets.TLSConfig{}
	s := open(t, sockets.Pair)
	_, err := s.Dial("tls+tcp://127.0.0.1:1", sockets.Later, sockets.TLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = s.Dial("wss://127.0.0.1:1/x", sockets.Later, sockets.TLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = s.Listen("tls+tcp://127.0.0.1:0", sockets.Later, sockets.TLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)

	// The socket-wide option too.
	s2 := open(t, sockets.Pair, sockets.WithTLS(zero))
	_, err = s2.Dial("tls+tcp://127.0.0.1:1", sockets.Later)
	wantCode(t, err, nanoact.ErrInvalid)

	// Still open: a plain endpoint works and the pair talks.
	peer := open(t, sockets.Pair)
	connect(t, s, peer, "inproc://tls-zero-"+t.Name())
	pingPong(t, s, peer)

	ctx := ctxT(t)
	_, err = sockets.DialStream(ctx, "wss://127.0.0.1:1/x", sockets.TLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = sockets.ListenStream("wss://127.0.0.1:0/x", sockets.TLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)
}

// A panic inside a control function (a bug, not a closed socket) comes
// back as ErrInternal, and the socket keeps working.
func TestControlPanicIsInternal(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Pair)
	err := sockets.ControlPanic(s)
	wantCode(t, err, nanoact.ErrInternal)
	peer := open(t, sockets.Pair)
	connect(t, s, peer, "inproc://control-panic-"+t.Name())
	pingPong(t, s, peer)
}

// A WatchPipes callback may close its own socket (NNG issue 1665 is the
// same trap): Close returns, and so does the callback.
func TestWatchPipesCloseFromCallback(t *testing.T) {
	t.Parallel()
	s, err := sockets.New(sockets.Pair)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen(fmt.Sprintf("inproc://watch-close-%d", seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	if _, err := s.WatchPipes(func(ev sockets.PipeEvent) {
		if ev.Added {
			closed <- s.Close()
		}
	}); err != nil {
		t.Fatal(err)
	}
	peer := open(t, sockets.Pair)
	if _, err := peer.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close from a pipe callback: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close called from a WatchPipes callback deadlocked")
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("socket not done after Close")
	}
}

// A callback that blocks does not hang Close: Close returns in bounded
// time, and the delivery goroutine exits once the callback returns.
// Not parallel: it checks for leaked goroutines itself.
func TestWatchPipesSlowCallback(t *testing.T) {
	opts := goleak.IgnoreCurrent()
	s, err := sockets.New(sockets.Pair)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen(fmt.Sprintf("inproc://watch-slow-%d", seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	if _, err := s.WatchPipes(func(ev sockets.PipeEvent) {
		once.Do(func() { close(entered) })
		<-release
	}); err != nil {
		t.Fatal(err)
	}
	peer, err := sockets.New(sockets.Pair)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("callback never called")
	}
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("Close hung behind a blocked WatchPipes callback")
	}
	close(release)
	if err := peer.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, opts)
}

// The stop function of a watcher may be called from its own callback.
func TestWatchPipesStopFromCallback(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Pair)
	l, err := s.Listen(fmt.Sprintf("inproc://watch-stop-%d", seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	var stop func()
	ready := make(chan struct{})
	stopped := make(chan struct{})
	stop, err = s.WatchPipes(func(ev sockets.PipeEvent) {
		<-ready
		stop()
		close(stopped)
	})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	peer := open(t, sockets.Pair)
	if _, err := peer.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop called from its own callback hung")
	}
	// The socket's control plane still answers.
	if _, err := s.Dial("inproc://nowhere", sockets.Later); err != nil {
		t.Fatal(err)
	}
}
