package ncurl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/ncurl"
)

func TestGetText(t *testing.T) {
	s := newServer(t)
	r, err := ncurl.Get(t.Context(), s.URL+"/text")
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "hello")
	if r.Headers != nil {
		t.Errorf("Headers = %v, want nil when none asked for", r.Headers)
	}
}

func TestGetBytes(t *testing.T) {
	s := newServer(t)
	r, err := ncurl.Get(t.Context(), s.URL+"/bytes", ncurl.Convert(false))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || !bytes.Equal(r.Data, []byte{0, 1, 2, 0xff}) || r.Text != "" || r.Converted {
		t.Fatalf("response = %+v", r)
	}
}

// TestConvertNUL checks nanonext's string rule: a trailing NUL is dropped,
// an embedded one prevents conversion.
func TestConvertNUL(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		path      string
		text      string
		converted bool
		data      string
	}{
		{"/text", "hello", true, "hello"},
		{"/nul", "abc", true, "abc\x00"},
		{"/nulmid", "", false, "ab\x00cd"},
		{"/bytes", "", false, "\x00\x01\x02\xff"},
		{"/status/204", "", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r, err := ncurl.Get(t.Context(), s.URL+tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != tc.text || r.Converted != tc.converted || string(r.Data) != tc.data || r.Data == nil {
				t.Fatalf("got text %q converted %v data %q, want %q %v %q", r.Text, r.Converted, r.Data, tc.text, tc.converted, tc.data)
			}
		})
	}
}

func TestPostBodyAndHeaders(t *testing.T) {
	s := newServer(t)
	ctx := t.Context()
	for _, body := range []ncurl.Option{ncurl.Body("payload"), ncurl.Body([]byte("payload"))} {
		r, err := ncurl.Do(ctx, s.URL+"/echo",
			ncurl.Method("POST"),
			ncurl.Header("X-Test", "first"),
			ncurl.Header("x-test", "yes"), // same name: replaces
			ncurl.Header("Host", "example.test"),
			body,
			ncurl.ResponseHeaders("x-len"),
		)
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "POST|example.test|yes||payload")
		if r.Headers["x-len"] != "7" {
			t.Errorf("Headers = %v, want x-len 7", r.Headers)
		}
	}
}

func TestGetForcesGET(t *testing.T) {
	s := newServer(t)
	r, err := ncurl.Get(t.Context(), s.URL+"/echo", ncurl.Method("POST"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Text, "GET|") {
		t.Fatalf("Text = %q, want a GET", r.Text)
	}
}

func TestHead(t *testing.T) {
	s := newServer(t)
	r, err := ncurl.Do(t.Context(), s.URL+"/text", ncurl.Method("HEAD"), ncurl.ResponseHeaders("Content-Length"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || len(r.Data) != 0 || r.Headers["Content-Length"] != "5" {
		t.Fatalf("response = %+v", r)
	}
}

func TestResponseHeaders(t *testing.T) {
	s := newServer(t)
	r, err := ncurl.Get(t.Context(), s.URL+"/headers",
		ncurl.ResponseHeaders("x-one", "X-MULTI", "x-missing", "Date", "content-type"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Headers["x-one"]; got != "1" {
		t.Errorf("x-one = %q", got)
	}
	if got := r.Headers["X-MULTI"]; got != "a, b" {
		t.Errorf("X-MULTI = %q, want %q", got, "a, b")
	}
	if v, ok := r.Headers["x-missing"]; ok {
		t.Errorf("x-missing present (%q), want absent", v)
	}
	if _, err := time.Parse(time.RFC1123, r.Headers["Date"]); err != nil {
		t.Errorf("Date = %q: %v", r.Headers["Date"], err)
	}
	if !strings.HasPrefix(r.Headers["content-type"], "text/plain") {
		t.Errorf("content-type = %q", r.Headers["content-type"])
	}
	if len(r.Headers) != 4 {
		t.Errorf("Headers = %v, want 4 entries", r.Headers)
	}
}

func TestStatusIsNotAnError(t *testing.T) {
	s := newServer(t)
	for _, code := range []int{201, 404, 500} {
		r, err := ncurl.Get(t.Context(), fmt.Sprintf("%s/status/%d", s.URL, code))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != code {
			t.Errorf("Status = %d, want %d", r.Status, code)
		}
	}
}

func TestChunkedAndInterim(t *testing.T) {
	s := newServer(t)
	r, err := ncurl.Get(t.Context(), s.URL+"/chunked")
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "one two three")
	r, err = ncurl.Get(t.Context(), s.URL+"/early")
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "final")
}

func TestRedirectNotFollowed(t *testing.T) {
	s := newServer(t)
	r, err := ncurl.Get(t.Context(), s.URL+"/redirect")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 302 || r.Headers["Location"] != "/text" || len(r.Headers) != 1 {
		t.Fatalf("response = %+v, want 302 with Location /text", r)
	}
	// Asked for under another spelling: reported once, under that name.
	r, err = ncurl.Get(t.Context(), s.URL+"/redirect", ncurl.ResponseHeaders("location", "x-missing"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Headers["location"] != "/text" || len(r.Headers) != 1 {
		t.Fatalf("Headers = %v", r.Headers)
	}
}

func TestRedirectFollowed(t *testing.T) {
	s := newServer(t)
	ctx := t.Context()
	t.Run("relative", func(t *testing.T) {
		r, err := ncurl.Get(ctx, s.URL+"/redirect", ncurl.Follow(true))
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "hello")
	})
	t.Run("absolute", func(t *testing.T) {
		r, err := ncurl.Get(ctx, s.URL+"/to?u="+url.QueryEscape(s.URL+"/text"), ncurl.Follow(true))
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "hello")
	})
	t.Run("method and body kept", func(t *testing.T) {
		r, err := ncurl.Do(ctx, s.URL+"/redirect307", ncurl.Follow(true),
			ncurl.Method("POST"), ncurl.Body("data"), ncurl.Header("X-Test", "kept"))
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "POST|"+s.Listener.Addr().String()+"|kept||data")
	})
	t.Run("credentials not sent to another host", func(t *testing.T) {
		other := newServer(t)
		auth := ncurl.Header("Authorization", "Bearer secret")
		r, err := ncurl.Get(ctx, s.URL+"/to?u="+url.QueryEscape(other.URL+"/echo"), ncurl.Follow(true), auth)
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "GET|"+other.Listener.Addr().String()+"|||")
		// Same host: kept.
		r, err = ncurl.Get(ctx, s.URL+"/to?u=/echo", ncurl.Follow(true), auth)
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "GET|"+s.Listener.Addr().String()+"||Bearer secret|")
	})
	t.Run("unusable location returned as is", func(t *testing.T) {
		r, err := ncurl.Get(ctx, s.URL+"/to?u="+url.QueryEscape("ftp://example.com/x"), ncurl.Follow(true))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 302 || r.Headers["Location"] != "ftp://example.com/x" {
			t.Fatalf("response = %+v", r)
		}
	})
	t.Run("loop stops", func(t *testing.T) {
		before := s.conns.Load()
		_, err := ncurl.Get(ctx, s.URL+"/loop", ncurl.Follow(true))
		wantCode(t, err, nanoact.ErrProtocol)
		if n := s.conns.Load() - before; n != ncurl.MaxRedirects+1 {
			t.Errorf("%d requests, want %d", n, ncurl.MaxRedirects+1)
		}
	})
}

func TestTimeout(t *testing.T) {
	s := newServer(t)
	start := time.Now()
	_, err := ncurl.Get(t.Context(), s.URL+"/slow", ncurl.Timeout(50*time.Millisecond))
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not match context.DeadlineExceeded", err)
	}
	var ne *nanoact.Error
	if errors.As(err, &ne); !ne.Timeout() || !strings.Contains(ne.Op, "/slow") {
		t.Errorf("error %+v", ne)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}

	// A ctx deadline does the same.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = ncurl.Get(ctx, s.URL+"/slow")
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not match context.DeadlineExceeded", err)
	}
}

func TestCanceled(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := ncurl.Get(ctx, s.URL+"/text")
	wantCode(t, err, nanoact.ErrCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not match context.Canceled", err)
	}
}

func TestConnRefused(t *testing.T) {
	_, err := ncurl.Get(t.Context(), refusedURL(t))
	wantCode(t, err, nanoact.ErrConnRefused)
}

func TestInvalid(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name string
		url  string
		opts []ncurl.Option
		want *nanoact.Error
	}{
		{"empty", "", nil, nanoact.ErrInvalid},
		{"no scheme", "not a url", nil, nanoact.ErrInvalid},
		{"no separator", "http//127.0.0.1/", nil, nanoact.ErrInvalid},
		{"opaque", "http:127.0.0.1", nil, nanoact.ErrInvalid},
		{"no host", "http://", nil, nanoact.ErrInvalid},
		{"bad host", "http://[::1/", nil, nanoact.ErrInvalid},
		{"bad escape", "http://host/%zz", nil, nanoact.ErrInvalid},
		{"scheme", "ftp://127.0.0.1/", nil, nanoact.ErrAddrInvalid},
		{"tcp scheme", "tcp://127.0.0.1:5555", nil, nanoact.ErrAddrInvalid},
		{"method", s.URL, []ncurl.Option{ncurl.Method("BAD METHOD")}, nanoact.ErrInvalid},
		{"header name", s.URL, []ncurl.Option{ncurl.Header("bad name", "v")}, nanoact.ErrInvalid},
		{"header value", s.URL, []ncurl.Option{ncurl.Header("X-Test", "a\r\nX-Injected: 1")}, nanoact.ErrInvalid},
		{"timeout", s.URL, []ncurl.Option{ncurl.Timeout(-time.Second)}, nanoact.ErrInvalid},
	}
	before := s.conns.Load()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ncurl.Do(t.Context(), tc.url, tc.opts...)
			wantCode(t, err, tc.want)
			c := ncurl.DoAsync(tc.url, tc.opts...)
			if !c.Resolved() {
				t.Fatal("DoAsync with invalid input is not resolved at once")
			}
			_, err = c.Value(t.Context())
			wantCode(t, err, tc.want)
			_, err = ncurl.NewSession(t.Context(), tc.url, tc.opts...)
			wantCode(t, err, tc.want)
		})
	}
	if n := s.conns.Load() - before; n != 0 {
		t.Errorf("%d connections made for invalid requests", n)
	}
}

func TestHTTPS(t *testing.T) {
	s := newTLSServer(t)
	ctx := t.Context()
	t.Run("verified", func(t *testing.T) {
		cfg := s.roots()
		r, err := ncurl.Get(ctx, s.URL+"/text", ncurl.TLS(cfg))
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "hello")
		if cfg.ServerName != "" || cfg.NextProtos != nil {
			t.Errorf("TLS config was modified: %q %q", cfg.ServerName, cfg.NextProtos)
		}
	})
	t.Run("wrong roots", func(t *testing.T) {
		_, err := ncurl.Get(ctx, s.URL+"/text", ncurl.TLS(otherRoots(t)))
		wantCode(t, err, nanoact.ErrPeerAuth)
	})
	t.Run("system roots by default", func(t *testing.T) {
		_, err := ncurl.Get(ctx, s.URL+"/text")
		wantCode(t, err, nanoact.ErrPeerAuth)
	})
	t.Run("wrong server name", func(t *testing.T) {
		cfg := s.roots()
		cfg.ServerName = "elsewhere.test"
		_, err := ncurl.Get(ctx, s.URL+"/text", ncurl.TLS(cfg))
		wantCode(t, err, nanoact.ErrPeerAuth)
	})
	t.Run("insecure", func(t *testing.T) {
		r, err := ncurl.Get(ctx, s.URL+"/text", ncurl.Insecure())
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "hello")
	})
	t.Run("plain server", func(t *testing.T) {
		plain := newServer(t)
		_, err := ncurl.Get(ctx, "https://"+plain.Listener.Addr().String()+"/text", ncurl.Insecure())
		wantCode(t, err, nanoact.ErrCrypto)
	})
	t.Run("redirect to https", func(t *testing.T) {
		plain := newServer(t)
		r, err := ncurl.Get(ctx, plain.URL+"/to?u="+url.QueryEscape(s.URL+"/text"), ncurl.Follow(true), ncurl.TLS(s.roots()))
		if err != nil {
			t.Fatal(err)
		}
		wantText(t, r, 200, "hello")
	})
}

func TestLargeBodies(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			s := startServer(t, useTLS)
			var tlsOpt ncurl.Option
			if useTLS {
				tlsOpt = ncurl.TLS(s.roots())
			}
			big := bigBody()
			r, err := ncurl.Get(t.Context(), s.URL+"/big", ncurl.Convert(false), tlsOpt)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != 200 || !bytes.Equal(r.Data, big) {
				t.Fatalf("got %d, %d bytes, want 200 and %d bytes", r.Status, len(r.Data), len(big))
			}
			r, err = ncurl.Do(t.Context(), s.URL+"/upload", ncurl.Method("PUT"), ncurl.Body(big), tlsOpt)
			if err != nil {
				t.Fatal(err)
			}
			wantText(t, r, 200, fmt.Sprintf("%d %s", len(big), sum(big)))
		})
	}
}

func TestConcurrentDo(t *testing.T) {
	s := newServer(t)
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		go func() {
			r, err := ncurl.Do(t.Context(), s.URL+"/echo", ncurl.Method("POST"), ncurl.Body(fmt.Sprint(i)))
			if err == nil && r.Text != fmt.Sprintf("POST|%s|||%d", s.Listener.Addr(), i) {
				err = fmt.Errorf("request %d: got %q", i, r.Text)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestStatusText(t *testing.T) {
	tests := map[int]string{
		100: "100 | Continue",
		200: "200 | OK",
		306: "306 | Switch Proxy",
		404: "404 | Not Found",
		413: "413 | Payload Too Large",
		418: "418 | I'm a teapot",
		511: "511 | Network Authentication Required",
		0:   "0 | Unknown HTTP Status",
		299: "299 | Unknown HTTP Status",
		600: "600 | Unknown HTTP Status",
	}
	for code, want := range tests {
		if got := ncurl.StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:80/x?y#z", "https://[::1]:443/", "http://", "ftp://x", "://", "http:x", "HTTP://Host"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ncurl.ParseURL(s)
		if err != nil {
			var ne *nanoact.Error
			if !errors.As(err, &ne) || (ne.Code != nanoact.CodeInvalid && ne.Code != nanoact.CodeAddrInvalid) {
				t.Fatalf("ParseURL(%q) error %v", s, err)
			}
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			t.Fatalf("ParseURL(%q) accepted %#v", s, u)
		}
	})
}
