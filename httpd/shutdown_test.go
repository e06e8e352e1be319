package httpd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/ncurl"
	"github.com/nanoact/nanoact/sockets"
)

// A request that outlasts Shutdown's ctx: Shutdown returns ErrTimedOut
// after closing it, and the handler's goroutine is gone (goleak).
func TestShutdownDeadline(t *testing.T) {
	ctx := testCtx(t)
	entered := make(chan struct{})
	left := make(chan struct{})
	s := started(t, []httpd.Handler{httpd.Handle("/slow", func(ctx context.Context, _ *httpd.Request) (*httpd.Response, error) {
		close(entered)
		<-ctx.Done() // ends when the connection is closed
		close(left)
		return nil, ctx.Err()
	})})
	call := ncurl.DoAsync(s.URL() + "/slow")
	recvOn(t, entered, "handler")
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(sctx); !errors.Is(err, nanoact.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its deadline: %v", err)
	}
	recvOn(t, left, "handler return")
	if _, err := call.Value(ctx); err == nil {
		t.Fatal("client got an answer from a closed connection")
	}
}

// Close ends websockets and streams at once and waits for their
// callbacks.
func TestCloseEndsEverything(t *testing.T) {
	ctx := testCtx(t)
	opened := make(chan struct{}, 2)
	closed := make(chan string, 2)
	s := started(t, []httpd.Handler{
		httpd.WS("/ws", httpd.WSEvents{
			Open:  func(*httpd.WSConn) { opened <- struct{}{} },
			Close: func(*httpd.WSConn) { closed <- "ws" },
		}),
		httpd.Stream("/s", func(c *httpd.StreamConn, _ *httpd.Request) {
			_ = c.Send([]byte("x"))
			opened <- struct{}{}
		}, func(*httpd.StreamConn) { closed <- "stream" }),
	})
	st, err := sockets.DialStream(ctx, wsURL(s, "/ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	call := ncurl.DoAsync(s.URL() + "/s")
	recvOn(t, opened, "open")
	recvOn(t, opened, "open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Both callbacks ran before Close returned.
	got := map[string]bool{}
	for range 2 {
		select {
		case k := <-closed:
			got[k] = true
		default:
			t.Fatalf("Close returned before the close callbacks ran: %v", got)
		}
	}
	_, _ = call.Value(ctx)
	if _, err := st.Recv(ctx); err == nil {
		t.Fatal("websocket still open after Close")
	}
}

// Close, and Shutdown once its ctx ends, do not wait out the write timeout
// of a websocket writer blocked on a client that does not read: they cut
// the connection.
func TestCloseCutsBlockedWebsocketWriter(t *testing.T) {
	t.Run("Close", func(t *testing.T) { cutsBlockedWriter(t, false) })
	t.Run("Shutdown", func(t *testing.T) { cutsBlockedWriter(t, true) })
}

func cutsBlockedWriter(t *testing.T, graceful bool) {
	ctx := testCtx(t)
	conns := make(chan *httpd.WSConn, 1)
	s := started(t, []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{
		Open: func(c *httpd.WSConn) { conns <- c },
	}, httpd.SendQueue(1000), httpd.WriteTimeout(time.Minute), httpd.PingInterval(0))})
	dialWS(t, ctx, wsURL(s, "/ws"), nil) // never reads
	c := recvOn(t, conns, "open")
	big := make([]byte, 64<<10)
	for range 500 { // 32 MB: more than loopback's socket buffers hold
		if err := c.Send(big); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	if graceful {
		sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		go func() { closed <- s.Shutdown(sctx) }()
		if err := recvOn(t, closed, "Shutdown"); !errors.Is(err, nanoact.ErrTimedOut) {
			t.Fatalf("Shutdown past its deadline: %v", err)
		}
		return
	}
	go func() { closed <- s.Close() }()
	if err := recvOn(t, closed, "Close"); err != nil {
		t.Fatal(err)
	}
}
