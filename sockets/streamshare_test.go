package sockets_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// TestStreamSharesWSPort checks that websocket streams are served by the
// transport's ws listener: a stream listener binds a path on the port of
// a socket's SP ws listener, both serve their own peers there, a path
// nobody serves is answered 404, and a second stream listener on a taken
// path fails with ErrAddrInUse.
func TestStreamSharesWSPort(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)

	rep, err := sockets.New(sockets.Rep)
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	sl, err := rep.Listen("ws://127.0.0.1:0/sp")
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(sl.URL(), "/sp") // ws://127.0.0.1:port

	l, err := sockets.ListenStream(base + "/raw")
	if err != nil {
		t.Fatalf("stream listener beside an SP listener: %v", err)
	}
	defer l.Close()
	if l.URL() != base+"/raw" {
		t.Fatalf("URL %q, want %q", l.URL(), base+"/raw")
	}
	if _, err := sockets.ListenStream(base + "/raw"); !errors.Is(err, nanoact.ErrAddrInUse) {
		t.Fatalf("second stream listener on /raw: %v, want ErrAddrInUse", err)
	}

	// The stream.
	accepted := make(chan *sockets.Stream, 1)
	go func() {
		s, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- s
	}()
	c, err := sockets.DialStream(ctx, l.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	defer s.Close()
	if err := c.Send(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, s, sockets.Raw); err != nil || v != "hello" {
		t.Fatalf("stream got %q %v", v, err)
	}

	// The SP socket on the same port.
	req, err := sockets.New(sockets.Req, sockets.Dial(base+"/sp", sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	if err := req.Send(ctx, 20); err != nil {
		t.Fatal(err)
	}
	q, err := sockets.RecvAs[int](ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Send(ctx, q+1); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[int](ctx, req); err != nil || v != 21 {
		t.Fatalf("SP reply %v %v", v, err)
	}

	// Nobody serves /none.
	_, resp, err := websocket.DefaultDialer.DialContext(ctx, base+"/none", nil)
	if resp != nil {
		_ = resp.Body.Close()
	}
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dial /none: %v, response %v; want 404", err, resp)
	}
	// DialStream maps the refusal as the SP ws dialer (and NNG) do.
	_, err = sockets.DialStream(ctx, base+"/none")
	wantCode(t, err, nanoact.ErrConnRefused)
}
