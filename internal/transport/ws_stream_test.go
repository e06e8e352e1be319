package transport_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.nanomsg.org/mangos/v3/protocol/pull"
	"go.nanomsg.org/mangos/v3/protocol/push"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

// TestWSStreamListener checks the ws listener in stream mode: it upgrades
// a request naming no SP subprotocol (or another one) and hands over the
// websocket with the request's headers, shares its port with an SP ws
// listener by path, and ends Accept on ctx and on Close.
func TestWSStreamListener(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ls, err := transport.ListenWSStream("ws://127.0.0.1:0/raw", nil)
	must(t, err)
	addr := ls.Address()
	if !strings.HasPrefix(addr, "ws://127.0.0.1:") || strings.HasSuffix(addr, ":0/raw") || !strings.HasSuffix(addr, "/raw") {
		t.Fatalf("Address %q: want the bound port", addr)
	}
	base := strings.TrimSuffix(addr, "/raw")

	// An SP listener on another path of the same port.
	sp, err := transport.Rewrite(base + "/sp")
	must(t, err)
	p := sockOf(t, pull.NewProtocol())
	must(t, p.Listen(sp))
	q := sockOf(t, push.NewProtocol())
	must(t, q.Dial(sp))
	must(t, q.Send([]byte("sp")))
	if b, err := p.Recv(); err != nil || string(b) != "sp" {
		t.Fatalf("SP beside a stream listener: %q %v", b, err)
	}

	for _, subp := range []string{"", "chat"} {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		if subp != "" {
			d.Subprotocols = []string{subp}
		}
		ws, resp, err := d.DialContext(ctx, addr, http.Header{"X-Test": {"stream"}})
		must(t, err)
		_ = resp.Body.Close()
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "" {
			t.Errorf("subprotocol %q echoed as %q, want none", subp, got)
		}
		st, err := ls.Accept(ctx)
		must(t, err)
		if st.Header.Get("X-Test") != "stream" {
			t.Fatalf("request headers %v", st.Header)
		}
		must(t, ws.WriteMessage(websocket.BinaryMessage, []byte("hi "+subp)))
		if _, b, err := st.Conn.ReadMessage(); err != nil || string(b) != "hi "+subp {
			t.Fatalf("stream read %q %v", b, err)
		}
		_ = ws.Close()
		must(t, st.Close())
	}

	short, stop := context.WithCancel(ctx)
	stop()
	_, err = ls.Accept(short)
	wantCode(t, err, nanoact.ErrCanceled)

	done := make(chan error, 1)
	go func() {
		_, err := ls.Accept(ctx)
		done <- err
	}()
	must(t, ls.Close())
	wantCode(t, <-done, nanoact.ErrClosed)
	wantCode(t, ls.Close(), nanoact.ErrClosed)

	// The SP listener still serves the port.
	must(t, q.Send([]byte("after")))
	if b, err := p.Recv(); err != nil || string(b) != "after" {
		t.Fatalf("SP after the stream listener closed: %q %v", b, err)
	}
}

// TestWSStreamListenerWSS checks a wss stream listener: it needs a server
// config, and serves a TLS client with it.
func TestWSStreamListenerWSS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := transport.ListenWSStream("wss://127.0.0.1:0/s", nil)
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = transport.ListenWSStream("tcp://127.0.0.1:0", nil)
	wantCode(t, err, nanoact.ErrNotSupported)

	ls, err := transport.ListenWSStream("wss://127.0.0.1:0/s", serverTLS())
	must(t, err)
	defer ls.Close()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, TLSClientConfig: clientTLS()}
	ws, resp, err := d.DialContext(ctx, ls.Address(), nil)
	must(t, err)
	_ = resp.Body.Close()
	defer ws.Close()
	st, err := ls.Accept(ctx)
	must(t, err)
	defer st.Close()
	must(t, st.Conn.WriteMessage(websocket.TextMessage, []byte("secure")))
	if _, b, err := ws.ReadMessage(); err != nil || string(b) != "secure" {
		t.Fatalf("read %q %v", b, err)
	}
}

// TestDialWSStream checks the stream dialer: it connects to a stream
// listener with its headers, and codes failures as the SP ws dialer does.
func TestDialWSStream(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ls, err := transport.ListenWSStream("ws://127.0.0.1:0/d", nil)
	must(t, err)
	base := strings.TrimSuffix(ls.Address(), "/d")
	accepted := make(chan *transport.WSStream, 1)
	go func() {
		st, err := ls.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- st
	}()
	ws, hdr, err := transport.DialWSStream(ctx, ls.Address(), http.Header{"X-Dial": {"1"}}, nil)
	must(t, err)
	defer ws.Close()
	if hdr.Get("Upgrade") != "websocket" {
		t.Fatalf("response headers %v", hdr)
	}
	st := <-accepted
	if st == nil {
		t.FailNow()
	}
	defer st.Close()
	if st.Header.Get("X-Dial") != "1" {
		t.Fatalf("request headers %v", st.Header)
	}

	_, _, err = transport.DialWSStream(ctx, base+"/none", nil, nil) // 404
	wantCode(t, err, nanoact.ErrConnRefused)
	gone, stop := context.WithCancel(ctx)
	stop()
	_, _, err = transport.DialWSStream(gone, ls.Address(), nil, nil)
	wantCode(t, err, nanoact.ErrCanceled)
	must(t, ls.Close())
	_, _, err = transport.DialWSStream(ctx, ls.Address(), nil, nil) // nobody listens
	wantCode(t, err, nanoact.ErrConnRefused)
}
