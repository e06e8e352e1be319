package httpd_test

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/sockets"
)

type opened struct {
	uri, token string
	id         uint64
}

func TestWSEcho(t *testing.T) {
	ctx := testCtx(t)
	opens := make(chan opened, 1)
	closes := make(chan uint64, 1)
	var h *httpd.WSHandler
	h = httpd.WS("/ws", httpd.WSEvents{
		Open: func(c *httpd.WSConn) { opens <- opened{c.URI(), c.Header().Get("X-Token"), c.ID()} },
		Message: func(c *httpd.WSConn, data []byte) {
			if err := c.Send(append([]byte("echo:"), data...)); err != nil {
				t.Errorf("Send: %v", err)
			}
		},
		Close: func(c *httpd.WSConn) {
			if err := c.Send([]byte("late")); !errors.Is(err, nanoact.ErrClosed) {
				t.Errorf("Send after close: %v", err)
			}
			// A closed connection no longer counts, by the time its
			// Close callback runs.
			if n := h.Conns(); n != 0 {
				t.Errorf("Conns = %d in the Close callback", n)
			}
			closes <- c.ID()
		},
	})
	s := serve(t, []httpd.Handler{h, httpd.Handle("/", echo, httpd.Prefix())})
	st, err := sockets.DialStream(ctx, wsURL(s, "/ws?room=1"), sockets.RequestHeader("X-Token", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	o := recvOn(t, opens, "open")
	if o.uri != "/ws?room=1" || o.token != "secret" || o.id == 0 {
		t.Fatalf("open saw %+v", o)
	}
	for _, m := range []string{"a", "bb", string(make([]byte, 70000))} {
		if err := st.Send(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
		got, err := st.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The stream returns long messages in pieces of its receive size.
		body := append([]byte(nil), got.Body...)
		for len(body) < len(m)+5 {
			more, err := st.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			body = append(body, more.Body...)
		}
		if string(body) != "echo:"+m {
			t.Fatalf("echo of %d bytes: got %d bytes", len(m), len(body))
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if id := recvOn(t, closes, "close"); id != o.id {
		t.Fatalf("closed %d, opened %d", id, o.id)
	}
}

func TestWSBroadcastTextFrames(t *testing.T) {
	ctx := testCtx(t)
	var wg sync.WaitGroup
	wg.Add(3)
	h := httpd.WS("/chat", httpd.WSEvents{Open: func(*httpd.WSConn) { wg.Done() }}, httpd.TextFrames())
	s := serve(t, []httpd.Handler{h})
	var clients []*websocket.Conn
	for range 3 {
		c := dialWS(t, ctx, wsURL(s, "/chat"), nil)
		clients = append(clients, c)
	}
	wg.Wait()
	if n := h.Conns(); n != 3 {
		t.Fatalf("Conns = %d", n)
	}
	if n := h.Broadcast([]byte("hello all")); n != 3 {
		t.Fatalf("Broadcast reached %d", n)
	}
	for i, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		kind, data, err := c.ReadMessage()
		if err != nil || kind != websocket.TextMessage || string(data) != "hello all" {
			t.Fatalf("client %d: %v %d %q", i, err, kind, data)
		}
	}
}

func TestWSFrameTypes(t *testing.T) {
	ctx := testCtx(t)
	s := serve(t, []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{Open: func(c *httpd.WSConn) {
		_ = c.Send([]byte("default"))
		_ = c.SendText("text")
		_ = c.SendBinary([]byte{0, 1})
	}})})
	c := dialWS(t, ctx, wsURL(s, "/ws"), nil)
	want := []struct {
		kind int
		data []byte
	}{{websocket.BinaryMessage, []byte("default")}, {websocket.TextMessage, []byte("text")}, {websocket.BinaryMessage, []byte{0, 1}}}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, w := range want {
		kind, data, err := c.ReadMessage()
		if err != nil || kind != w.kind || !bytes.Equal(data, w.data) {
			t.Fatalf("got %v %d %q, want %d %q", err, kind, data, w.kind, w.data)
		}
	}
}

// A client that never reads: the send queue fills, Send fails with
// ErrClosed, the connection is closed and Close runs.
func TestWSClientNeverReads(t *testing.T) {
	ctx := testCtx(t)
	log, logs := observed()
	conns := make(chan *httpd.WSConn, 1)
	closed := make(chan struct{})
	s := serve(t, []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{
		Open:  func(c *httpd.WSConn) { conns <- c },
		Close: func(*httpd.WSConn) { close(closed) },
	}, httpd.SendQueue(2), httpd.PingInterval(0))}, httpd.WithLogger(log))
	dialWS(t, ctx, wsURL(s, "/ws"), nil) // never reads
	c := recvOn(t, conns, "open")
	big := make([]byte, 64<<10)
	var sendErr error
	for i := 0; i < 1_000_000 && sendErr == nil; i++ {
		sendErr = c.Send(big)
	}
	if !errors.Is(sendErr, nanoact.ErrClosed) {
		t.Fatalf("Send to a client that never reads: %v", sendErr)
	}
	recvOn(t, closed, "close callback")
	if logs.FilterMessageSnippet("not reading").Len() != 1 {
		t.Fatal("slow client not logged")
	}
}

// Pings keep an idle connection alive while the client answers them, and
// find a client that does not.
func TestWSPing(t *testing.T) {
	ctx := testCtx(t)
	closed := make(chan uint64, 2)
	onClose := func(c *httpd.WSConn) { closed <- c.ID() }
	// The answering client's interval leaves it a wide margin on a loaded
	// machine (a connection silent for two intervals is closed: at 60 ms,
	// a client's reader stalled 120 ms under load and -race lost it, and
	// its pings stopped); the silent one's makes the test quick.
	s := serve(t, []httpd.Handler{
		httpd.WS("/alive", httpd.WSEvents{Close: onClose}, httpd.PingInterval(400*time.Millisecond)),
		httpd.WS("/silent", httpd.WSEvents{Close: onClose}, httpd.PingInterval(20*time.Millisecond)),
	})
	// An answering client sees pings, and stays connected past many
	// intervals.
	alive := dialWS(t, ctx, wsURL(s, "/alive"), nil)
	pings := make(chan struct{}, 100)
	alive.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return alive.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	readDone := make(chan error, 1)
	go func() {
		for {
			if _, _, err := alive.ReadMessage(); err != nil {
				readDone <- err
				return
			}
		}
	}()
	// A silent client (never reads, so never answers a ping).
	dialWS(t, ctx, wsURL(s, "/silent"), nil)
	recvOn(t, closed, "silent client closed")
	for range 5 {
		recvOn(t, pings, "ping")
	}
	select {
	case id := <-closed:
		t.Fatalf("answering client %d closed", id)
	default:
	}
	_ = alive.Close()
	recvOn(t, readDone, "client reader")
	recvOn(t, closed, "answering client closed")
}

func TestWSShutdownClosesConnections(t *testing.T) {
	ctx := testCtx(t)
	opens := make(chan struct{}, 1)
	closed := make(chan struct{}, 1)
	s := started(t, []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{
		Open:  func(*httpd.WSConn) { opens <- struct{}{} },
		Close: func(*httpd.WSConn) { closed <- struct{}{} },
	})})
	st, err := sockets.DialStream(ctx, wsURL(s, "/ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	recvOn(t, opens, "open")
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	recvOn(t, closed, "close callback")
	if _, err := st.Recv(ctx); err == nil {
		t.Fatal("client still connected after Shutdown")
	}
}

func TestWSPanicClosesOnlyThatConnection(t *testing.T) {
	ctx := testCtx(t)
	log, logs := observed()
	s := serve(t, []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{Message: func(c *httpd.WSConn, data []byte) {
		if string(data) == "boom" {
			panic("ws boom")
		}
		_ = c.Send(data)
	}})}, httpd.WithLogger(log))
	a := dialWS(t, ctx, wsURL(s, "/ws"), nil)
	b := dialWS(t, ctx, wsURL(s, "/ws"), nil)
	_ = a.WriteMessage(websocket.BinaryMessage, []byte("boom"))
	_ = a.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := a.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseInternalServerErr) {
		t.Fatalf("panicking connection: %v, want close 1011", err)
	}
	_ = b.WriteMessage(websocket.BinaryMessage, []byte("fine"))
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, data, err := b.ReadMessage(); err != nil || string(data) != "fine" {
		t.Fatalf("other connection: %v %q", err, data)
	}
	if logs.FilterField(httpdPanic("ws boom")).Len() != 1 {
		t.Fatal("panic not logged")
	}
}

// A websocket path answers a plain request with 400, and an upgrade from
// another origin with 403.
func TestWSRefusals(t *testing.T) {
	ctx := testCtx(t)
	s := serve(t, []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{})})
	resp, err := http.Get(s.URL() + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != 400 {
		t.Fatalf("plain GET: %d", resp.StatusCode)
	}
	h := http.Header{}
	h.Set("Origin", "http://evil.example")
	_, resp, err = websocket.DefaultDialer.DialContext(ctx, wsURL(s, "/ws"), h)
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-origin upgrade: %v", err)
	}
	_ = resp.Body.Close()
}

// Messages queued before Close reach the client before the close frame.
func TestWSCloseFlushesQueue(t *testing.T) {
	ctx := testCtx(t)
	s := serve(t, []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{Open: func(c *httpd.WSConn) {
		for i := range 50 {
			_ = c.SendText(strconv.Itoa(i))
		}
		_ = c.Close()
		if err := c.Close(); !errors.Is(err, nanoact.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
	}})})
	c := dialWS(t, ctx, wsURL(s, "/ws"), nil)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 50 {
		_, data, err := c.ReadMessage()
		if err != nil || string(data) != strconv.Itoa(i) {
			t.Fatalf("message %d: %v %q", i, err, data)
		}
	}
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after the queue: %v, want close 1000", err)
	}
}
