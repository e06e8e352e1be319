package httpd_test

import (
	"context"
	"testing"
	"time"

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
	s, err := httpd.New(url, hs, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
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
