package sockets_test

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// refusedAddr returns a loopback address nobody listens on: that of a
// listener just closed.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// A refused connection names the address once, and the cause stays
// reachable with errors.Is and errors.As.
func TestDialRefusedNamesURLOnce(t *testing.T) {
	t.Parallel()
	addr := refusedAddr(t)
	s := open(t, sockets.Req)
	errs := map[string]error{}
	for _, u := range []string{"tcp://" + addr, "ws://" + addr + "/x"} {
		_, errs[u] = s.Dial(u, sockets.Sync)
	}
	_, errs["stream tcp://"+addr] = sockets.DialStream(ctxT(t), "tcp://"+addr)
	_, errs["stream ws://"+addr] = sockets.DialStream(ctxT(t), "ws://"+addr+"/x")
	for name, err := range errs {
		wantCode(t, err, nanoact.ErrConnRefused)
		if n := strings.Count(err.Error(), addr); n != 1 {
			t.Errorf("%s: %q names %s %d times", name, err, addr, n)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: %v is not ECONNREFUSED", name, err)
		}
		var oe *net.OpError
		if !errors.As(err, &oe) {
			t.Errorf("%s: %v does not wrap a *net.OpError", name, err)
		}
	}
}

// Dial and Listen errors name the call the user made (sockets: dial,
// sockets: listen), not the transport inside, and keep the code.
func TestEndpointErrorsNameSocketsOp(t *testing.T) {
	t.Parallel()
	addr := refusedAddr(t)
	s := open(t, sockets.Req)
	_, refused := s.Dial("tcp://"+addr, sockets.Sync)
	_, scheme := s.Dial("foo://x", sockets.Sync)
	l, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, inUse := s.Listen(l.URL())
	_, badPort := s.Listen("ws://127.0.0.1:99999/x")
	for _, c := range []struct {
		err  error
		op   string
		code *nanoact.Error
	}{
		{refused, "sockets: dial tcp://" + addr, nanoact.ErrConnRefused},
		{scheme, "sockets: dial foo://x", nanoact.ErrNotSupported},
		{inUse, "sockets: listen " + l.URL(), nanoact.ErrAddrInUse},
		{badPort, "sockets: listen ws://127.0.0.1:99999/x", nanoact.ErrAddrInvalid},
	} {
		wantCode(t, c.err, c.code)
		var ne *nanoact.Error
		if !errors.As(c.err, &ne) || ne.Op != c.op {
			t.Errorf("%v: op %q, want %q", c.err, ne.Op, c.op)
		}
		if strings.Contains(c.err.Error(), "transport:") {
			t.Errorf("%q names the internal transport", c.err)
		}
	}
}
