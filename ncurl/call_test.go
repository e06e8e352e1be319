package ncurl_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/ncurl"
)

func TestDoAsync(t *testing.T) {
	s := newServer(t)
	c := ncurl.DoAsync(s.URL+"/echo", ncurl.Method("POST"), ncurl.Body("x"), ncurl.ResponseHeaders("X-Len"))
	<-c.Done()
	if !c.Resolved() {
		t.Fatal("not resolved after Done")
	}
	r, err := c.Value(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "POST|"+s.Listener.Addr().String()+"|||x")
	if r.Headers["X-Len"] != "1" {
		t.Errorf("Headers = %v", r.Headers)
	}
	// Every waiter sees the same response; Stop after completion keeps it.
	c.Stop()
	if r2, err := c.Value(t.Context()); r2 != r || err != nil {
		t.Errorf("second Value = %p, %v; want %p, nil", r2, err, r)
	}
}

func TestDoAsyncRedirect(t *testing.T) {
	s := newServer(t)
	r, err := ncurl.DoAsync(s.URL + "/redirect").Value(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 302 || r.Headers["Location"] != "/text" {
		t.Fatalf("response = %+v", r)
	}
	r, err = ncurl.DoAsync(s.URL+"/redirect", ncurl.Follow(true)).Value(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "hello")
}

func TestDoAsyncStop(t *testing.T) {
	s := newServer(t)
	c := ncurl.DoAsync(s.URL + "/slow")
	if c.Resolved() {
		t.Fatal("resolved before the server answered")
	}
	c.Stop()
	if !c.Resolved() {
		t.Fatal("not resolved after Stop")
	}
	_, err := c.Value(t.Context())
	wantCode(t, err, nanoact.ErrCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not match context.Canceled", err)
	}
	c.Stop() // idempotent
}

// TestDoAsyncWaitAbandoned checks that ending the wait's ctx leaves the
// request running.
func TestDoAsyncWaitAbandoned(t *testing.T) {
	s := newServer(t)
	c := ncurl.DoAsync(s.URL + "/slow")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not match context.DeadlineExceeded", err)
	}
	if c.Resolved() {
		t.Fatal("abandoning the wait resolved the call")
	}
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	_, err = c.Value(ctx)
	wantCode(t, err, nanoact.ErrCanceled)
	c.Stop()
}

func TestDoAsyncTimeout(t *testing.T) {
	s := newServer(t)
	_, err := ncurl.DoAsync(s.URL+"/slow", ncurl.Timeout(30*time.Millisecond)).Value(t.Context())
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not match context.DeadlineExceeded", err)
	}
}

func TestDoAsyncRefused(t *testing.T) {
	_, err := ncurl.DoAsync(refusedURL(t)).Value(t.Context())
	wantCode(t, err, nanoact.ErrConnRefused)
}

func TestDoAsyncHTTPS(t *testing.T) {
	s := newTLSServer(t)
	r, err := ncurl.DoAsync(s.URL+"/text", ncurl.TLS(s.roots())).Value(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "hello")
	_, err = ncurl.DoAsync(s.URL+"/text", ncurl.TLS(otherRoots(t))).Value(t.Context())
	wantCode(t, err, nanoact.ErrPeerAuth)
}

// TestPromise checks nanonext's rule: only status 200 fulfils.
func TestPromise(t *testing.T) {
	s := newServer(t)
	ctx := t.Context()
	t.Run("200 fulfils", func(t *testing.T) {
		c := ncurl.DoAsync(s.URL + "/text")
		p := c.Promise()
		if c.Promise() != p {
			t.Error("Promise not cached")
		}
		r, err := p.Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "hello")
	})
	for _, path := range []string{"/status/404", "/status/201", "/redirect"} {
		t.Run(path+" rejects", func(t *testing.T) {
			c := ncurl.DoAsync(s.URL + path)
			_, err := c.Promise().Await(ctx)
			var se *ncurl.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v (%T), want *StatusError", err, err)
			}
			if want := "ncurl: " + ncurl.StatusText(se.Response.Status); err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
	t.Run("404 text", func(t *testing.T) {
		_, err := ncurl.DoAsync(s.URL + "/status/404").Promise().Await(ctx)
		if err == nil || err.Error() != "ncurl: 404 | Not Found" {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("transport error rejects", func(t *testing.T) {
		_, err := ncurl.DoAsync(refusedURL(t)).Promise().Await(ctx)
		wantCode(t, err, nanoact.ErrConnRefused)
	})
	t.Run("made after completion", func(t *testing.T) {
		c := ncurl.DoAsync(s.URL + "/text")
		<-c.Done()
		r, err := c.Promise().Await(ctx)
		if err != nil || r.Text != "hello" {
			t.Fatalf("got %v, %v", r, err)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		c := ncurl.DoAsync(s.URL + "/slow")
		p := c.Promise()
		c.Stop()
		_, err := p.Await(ctx)
		wantCode(t, err, nanoact.ErrCanceled)
	})
}
