package httpd_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nanoact/nanoact/httpd"
)

// testCtx returns a context bounded well below the test timeout.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serve starts a server on a free loopback port with hs and shuts it down
// when the test ends.
func serve(t testing.TB, hs []httpd.Handler, opts ...httpd.Option) *httpd.Server {
	t.Helper()
	return serveURL(t, "http://127.0.0.1:0", hs, opts...)
}

func serveURL(t testing.TB, url string, hs []httpd.Handler, opts ...httpd.Option) *httpd.Server {
	t.Helper()
	s := startedURL(t, url, hs, opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// wsURL turns the server's http URL into a ws one for path.
func wsURL(s *httpd.Server, path string) string {
	u := s.URL()
	if len(u) > 5 && u[:5] == "https" {
		return "wss" + u[5:] + path
	}
	return "ws" + u[4:] + path
}

// recvOn waits for a value on ch, failing the test after a bound.
func recvOn[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// started builds and starts a server on a free loopback port; the test
// stops it itself.
func started(t testing.TB, hs []httpd.Handler, opts ...httpd.Option) *httpd.Server {
	t.Helper()
	return startedURL(t, "http://127.0.0.1:0", hs, opts...)
}

func startedURL(t testing.TB, url string, hs []httpd.Handler, opts ...httpd.Option) *httpd.Server {
	t.Helper()
	s, err := httpd.New(url, hs, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

// dialWS opens a gorilla/websocket client connection, closed when the
// test ends (before the server it talks to shuts down).
func dialWS(t testing.TB, ctx context.Context, url string, h http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c.Close() })
	return c
}
