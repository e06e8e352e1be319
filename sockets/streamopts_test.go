package sockets_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// wssPair is streamPair over wss, the client trusting c.
func wssPair(t *testing.T, url string, c testCert) (client, server *sockets.Stream) {
	t.Helper()
	l, err := sockets.ListenStream(url, sockets.TLS(tlsServer(t, sockets.TLSCert(c.cert, c.key))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ctx := ctxT(t)
	accepted := make(chan *sockets.Stream, 1)
	go func() {
		s, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- s
	}()
	cl, err := sockets.DialStream(ctx, l.URL(), sockets.TLS(tlsClient(t, sockets.TLSCA(c.cert))))
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = cl.Close(); _ = s.Close() })
	return cl, s
}

// A websocket stream honours RecvSize: a longer message comes in pieces
// of at most that many bytes, and the next message starts a new receive.
func TestStreamWSRecvSize(t *testing.T) {
	t.Parallel()
	cli, srv := streamPair(t, fmt.Sprintf("ws://127.0.0.1:0/rs-%d", seq.Add(1)), sockets.RecvSize(4))
	ctx := ctxT(t)
	long := bytes.Repeat([]byte("0123456789"), 3) // 30 bytes
	if err := cli.Send(ctx, long); err != nil {
		t.Fatal(err)
	}
	if err := cli.Send(ctx, []byte("ab")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(long) {
		m, err := srv.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Body) == 0 || len(m.Body) > 4 {
			t.Fatalf("a receive returned %d bytes, want 1..4", len(m.Body))
		}
		got = append(got, m.Body...)
	}
	if !bytes.Equal(got, long) {
		t.Fatalf("reassembled %q, want %q", got, long)
	}
	m, err := srv.Recv(ctx)
	if err != nil || string(m.Body) != "ab" {
		t.Fatalf("next message %q, %v", m.Body, err)
	}
	// Without RecvSize a message comes whole (the default is 64 KiB).
	cli2, srv2 := streamPair(t, fmt.Sprintf("ws://127.0.0.1:0/rs-%d", seq.Add(1)))
	if err := cli2.Send(ctx, long); err != nil {
		t.Fatal(err)
	}
	if m, err := srv2.Recv(ctx); err != nil || !bytes.Equal(m.Body, long) {
		t.Fatalf("whole message %q, %v", m.Body, err)
	}
}

// A dialled websocket stream exposes the upgrade response's headers.
func TestStreamWSResponseHeader(t *testing.T) {
	t.Parallel()
	cli, srv := streamPair(t, fmt.Sprintf("ws://127.0.0.1:0/hdr-%d", seq.Add(1)))
	h := cli.ResponseHeader()
	if h.Get("Sec-Websocket-Accept") == "" || !strings.EqualFold(h.Get("Upgrade"), "websocket") {
		t.Fatalf("response headers %v lack the upgrade", h)
	}
	if srv.ResponseHeader() != nil {
		t.Fatalf("accepted stream has response headers %v", srv.ResponseHeader())
	}
	tcli, _ := streamPair(t, "tcp://127.0.0.1:0")
	if tcli.ResponseHeader() != nil {
		t.Fatal("tcp stream has response headers")
	}
}

// Contexts have ids, unique and kept after Close, shown as nanonext
// shows them.
func TestContextID(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Req)
	a, b := mustContext(t, s), mustContext(t, s)
	if a.ID() == 0 || b.ID() == 0 || a.ID() == b.ID() {
		t.Fatalf("ids %d and %d", a.ID(), b.ID())
	}
	if !strings.Contains(a.String(), fmt.Sprintf(" - id: %d\n", a.ID())) {
		t.Fatalf("String() = %q lacks the id", a.String())
	}
	id := a.ID()
	_ = a.Close()
	if a.ID() != id {
		t.Fatalf("id changed on Close: %d -> %d", id, a.ID())
	}
}

// nanonext reads a stream's websocket headers as options.
func TestStreamWSHeaderOptions(t *testing.T) {
	t.Parallel()
	cli, srv := streamPair(t, fmt.Sprintf("ws://127.0.0.1:0/hopt-%d", seq.Add(1)), sockets.RequestHeader("X-Nano", "act"))
	for _, tc := range []struct {
		s    *sockets.Stream
		opt  sockets.Opt[string]
		want string
	}{
		{cli, sockets.WSRequestHeaders, "X-Nano: act\r\n"},
		{srv, sockets.WSRequestHeaders, "X-Nano: act\r\n"},
		{cli, sockets.WSResponseHeaders, "Upgrade: websocket\r\n"},
	} {
		v, err := sockets.Get(tc.s, tc.opt)
		if err != nil || !strings.Contains(v, tc.want) {
			t.Fatalf("%s = %q, %v; want it to contain %q", tc.opt.Name(), v, err, tc.want)
		}
		byName, err := sockets.GetOption(tc.s, tc.opt.Name())
		if err != nil || byName != v {
			t.Fatalf("GetOption(%q) = %q, %v", tc.opt.Name(), byName, err)
		}
	}
	if v, err := sockets.Get(srv, sockets.WSResponseHeaders); err != nil || v != "" {
		t.Fatalf("accepted stream's response headers %q, %v", v, err)
	}
	wantCode(t, sockets.Set(cli, sockets.WSRequestHeaders, "X: y\r\n"), nanoact.ErrReadOnly)
	tcli, _ := streamPair(t, "tcp://127.0.0.1:0")
	_, err := sockets.Get(tcli, sockets.WSResponseHeaders)
	wantCode(t, err, nanoact.ErrNotSupported)
}
