package sockets_test

import (
	"testing"

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
	_, err := s.Dial("tls+tcp://127.0.0.1:1", sockets.Later, sockets.WithTLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = s.Dial("wss://127.0.0.1:1/x", sockets.Later, sockets.WithTLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = s.Listen("tls+tcp://127.0.0.1:0", sockets.Later, sockets.WithTLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)

	// The socket-wide option too.
	s2 := open(t, sockets.Pair, sockets.TLS(zero))
	_, err = s2.Dial("tls+tcp://127.0.0.1:1", sockets.Later)
	wantCode(t, err, nanoact.ErrInvalid)

	// Still open: a plain endpoint works and the pair talks.
	peer := open(t, sockets.Pair)
	connect(t, s, peer, "inproc://tls-zero-"+t.Name())
	pingPong(t, s, peer)

	ctx := ctxT(t)
	_, err = sockets.DialStream(ctx, "wss://127.0.0.1:1/x", sockets.StreamTLS(zero))
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = sockets.ListenStream("wss://127.0.0.1:0/x", sockets.StreamTLS(zero))
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
