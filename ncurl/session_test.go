package ncurl_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/ncurl"
)

func newSession(t *testing.T, url string, opts ...ncurl.Option) *ncurl.Session {
	t.Helper()
	s, err := ncurl.NewSession(t.Context(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSessionReuse checks that all transactions go over one connection.
func TestSessionReuse(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			srv := startServer(t, useTLS)
			var opts []ncurl.Option
			if useTLS {
				opts = append(opts, ncurl.TLS(srv.roots()))
			}
			sess := newSession(t, srv.URL+"/echo", append(opts, ncurl.Method("POST"), ncurl.Body("stored"), ncurl.Header("X-Test", "s"))...)
			for i := range 5 {
				r, err := sess.Transact(t.Context())
				if err != nil {
					t.Fatalf("transaction %d: %v", i, err)
				}
				wantText(t, r, 200, "POST|"+srv.Listener.Addr().String()+"|s||stored")
			}
			// Per-transaction options, on top of the stored ones.
			r, err := sess.Transact(t.Context(), ncurl.Body("other"), ncurl.Header("Authorization", "a"), ncurl.ResponseHeaders("x-len"))
			if err != nil {
				t.Fatal(err)
			}
			wantText(t, r, 200, "POST|"+srv.Listener.Addr().String()+"|s|a|other")
			if r.Headers["x-len"] != "5" {
				t.Errorf("Headers = %v", r.Headers)
			}
			// ...for that transaction only.
			r, err = sess.Transact(t.Context(), ncurl.Convert(false))
			if err != nil {
				t.Fatal(err)
			}
			if r.Converted || string(r.Data) != "POST|"+srv.Listener.Addr().String()+"|s||stored" {
				t.Fatalf("response = %+v", r)
			}
			if n := srv.conns.Load(); n != 1 {
				t.Errorf("server saw %d connections, want 1", n)
			}
		})
	}
}

func TestSessionConcurrent(t *testing.T) {
	srv := newServer(t)
	sess := newSession(t, srv.URL+"/echo", ncurl.Method("PUT"))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 5 {
				body := fmt.Sprint(i, "-", j)
				r, err := sess.Transact(t.Context(), ncurl.Body(body))
				if err != nil {
					t.Error(err)
					return
				}
				if !strings.HasSuffix(r.Text, "|"+body) {
					t.Errorf("got %q for %q", r.Text, body)
				}
			}
		})
	}
	wg.Wait()
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
}

func TestSessionNoLocation(t *testing.T) {
	srv := newServer(t)
	sess := newSession(t, srv.URL+"/redirect")
	r, err := sess.Transact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 302 || r.Headers != nil {
		t.Fatalf("response = %+v, want 302 without headers", r)
	}
}

func TestSessionClose(t *testing.T) {
	srv := newServer(t)
	sess, err := ncurl.NewSession(t.Context(), srv.URL+"/text")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Transact(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = sess.Transact(t.Context())
	wantCode(t, err, nanoact.ErrClosed)
	wantCode(t, sess.Close(), nanoact.ErrClosed)
}

func TestSessionCloseDuringTransact(t *testing.T) {
	srv := newServer(t)
	sess := newSession(t, srv.URL+"/slow")
	done := make(chan error, 1)
	go func() {
		_, err := sess.Transact(context.Background())
		done <- err
	}()
	// The transaction may not have started when Close runs; either way it
	// must fail with ErrClosed.
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-done, nanoact.ErrClosed)
}

func TestSessionTimeout(t *testing.T) {
	srv := newServer(t)
	sess := newSession(t, srv.URL+"/slow", ncurl.Timeout(30*time.Millisecond))
	_, err := sess.Transact(t.Context())
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not match context.DeadlineExceeded", err)
	}
	// The connection was dropped: the session does not reconnect.
	_, err = sess.Transact(t.Context())
	wantCode(t, err, nanoact.ErrClosed)
	if err := sess.Close(); err != nil {
		t.Errorf("Close after a lost connection: %v", err)
	}
}

func TestSessionServerCloses(t *testing.T) {
	srv := newServer(t)
	sess := newSession(t, srv.URL+"/close")
	r, err := sess.Transact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "bye")
	_, err = sess.Transact(t.Context())
	wantCode(t, err, nanoact.ErrClosed)
}

func TestSessionConnect(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		_, err := ncurl.NewSession(t.Context(), refusedURL(t))
		wantCode(t, err, nanoact.ErrConnRefused)
	})
	t.Run("wrong roots", func(t *testing.T) {
		srv := newTLSServer(t)
		_, err := ncurl.NewSession(t.Context(), srv.URL, ncurl.TLS(otherRoots(t)))
		wantCode(t, err, nanoact.ErrPeerAuth)
	})
	t.Run("follow", func(t *testing.T) {
		srv := newServer(t)
		_, err := ncurl.NewSession(t.Context(), srv.URL, ncurl.Follow(true))
		wantCode(t, err, nanoact.ErrInvalid)
	})
	t.Run("connects at once", func(t *testing.T) {
		srv := newServer(t)
		newSession(t, srv.URL)
		// The server counts the connection once it has accepted it, which
		// may be just after the dial returns.
		select {
		case <-srv.newConn:
		case <-time.After(10 * time.Second):
			t.Fatal("no connection before any Transact")
		}
	})
}

func TestTransactInvalidOptions(t *testing.T) {
	srv := newTLSServer(t)
	sess := newSession(t, srv.URL+"/text", ncurl.TLS(srv.roots()))
	for name, opt := range map[string]ncurl.Option{
		"tls":      ncurl.TLS(srv.roots()),
		"insecure": ncurl.Insecure(),
		"follow":   ncurl.Follow(true),
		"method":   ncurl.Method("A B"),
		"timeout":  ncurl.Timeout(-1),
	} {
		_, err := sess.Transact(t.Context(), opt)
		if !errors.Is(err, nanoact.ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", name, err)
		}
	}
	// Invalid options leave the session usable.
	r, err := sess.Transact(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "hello")
}

// TestTransactWaitCanceled checks that a Transact queued behind another
// gives up when its ctx ends, without disturbing the connection.
func TestTransactWaitCanceled(t *testing.T) {
	srv := newServer(t)
	sess := newSession(t, srv.URL+"/slow")
	first := make(chan error, 1)
	ctx1, cancel1 := context.WithCancel(t.Context())
	defer cancel1()
	go func() {
		_, err := sess.Transact(ctx1)
		first <- err
	}()
	// A second Transact with a short deadline: it times out whether it
	// waited for the first or ran on the connection itself.
	ctx2, cancel2 := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel2()
	_, err := sess.Transact(ctx2)
	wantCode(t, err, nanoact.ErrTimedOut)
	cancel1()
	if err := <-first; err != nil && !errors.Is(err, nanoact.ErrCanceled) && !errors.Is(err, nanoact.ErrClosed) {
		t.Errorf("first Transact: %v", err)
	}
}
