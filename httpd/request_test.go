package httpd_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/ncurl"
	"github.com/nanoact/nanoact/promises"
)

func echo(_ context.Context, req *httpd.Request) (*httpd.Response, error) {
	h := http.Header{}
	h.Set("X-Method", req.Method)
	h.Set("X-URI", req.URI)
	h.Set("X-Got", req.Header.Get("X-Send"))
	return &httpd.Response{Status: http.StatusCreated, Header: h, Body: req.Body}, nil
}

func TestRequestHandler(t *testing.T) {
	ctx := testCtx(t)
	s := serve(t, []httpd.Handler{
		httpd.Handle("/echo", echo, httpd.Method("POST")),
		httpd.Handle("/any", echo, httpd.Method("*")),
		httpd.Handle("/api", echo, httpd.Prefix()),
		httpd.Handle("/api/exact", func(context.Context, *httpd.Request) (*httpd.Response, error) {
			return &httpd.Response{Body: []byte("exact")}, nil
		}),
		httpd.Handle("/nil", func(context.Context, *httpd.Request) (*httpd.Response, error) { return nil, nil }),
	})
	r, err := ncurl.Do(ctx, s.URL()+"/echo?x=1", ncurl.Method("POST"), ncurl.Body("hello"),
		ncurl.Header("X-Send", "v"), ncurl.ResponseHeaders("X-Method", "X-URI", "X-Got"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 201 || r.Text != "hello" || r.Headers["X-Method"] != "POST" || r.Headers["X-URI"] != "/echo?x=1" || r.Headers["X-Got"] != "v" {
		t.Fatalf("echo: %+v", r)
	}
	cases := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/echo", 405, ""},
		{"GET", "/nope", 404, ""},
		{"DELETE", "/any", 201, ""},
		{"GET", "/api", 201, ""},
		{"GET", "/api/users/7", 201, ""},
		{"GET", "/apiary", 404, ""},
		{"GET", "/api/exact", 200, "exact"},
		{"POST", "/api/exact", 405, ""},
		{"HEAD", "/api/exact", 200, ""},
		{"GET", "/nil", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.method+c.path, func(t *testing.T) {
			r, err := ncurl.Do(ctx, s.URL()+c.path, ncurl.Method(c.method), ncurl.ResponseHeaders("Allow"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != c.status || (c.body != "" && r.Text != c.body) {
				t.Fatalf("got %d %q, want %d %q", r.Status, r.Text, c.status, c.body)
			}
			if c.status == 405 && r.Headers["Allow"] == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

func httpdPanic(v string) zap.Field { return zap.String("panic", v) }

func TestPanicAndErrorAre500(t *testing.T) {
	ctx := testCtx(t)
	log, logs := observed()
	s := serve(t, []httpd.Handler{
		httpd.Handle("/panic", func(context.Context, *httpd.Request) (*httpd.Response, error) { panic("boom") }),
		httpd.Handle("/err", func(context.Context, *httpd.Request) (*httpd.Response, error) {
			return nil, errors.New("bad thing")
		}),
		httpd.Mount("/mpanic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("mounted boom") })),
		httpd.Handle("/ok", echo),
	}, httpd.WithLogger(log))
	for _, p := range []string{"/panic", "/err", "/mpanic"} {
		r, err := ncurl.Get(ctx, s.URL()+p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 500 {
			t.Fatalf("%s: status %d, want 500", p, r.Status)
		}
	}
	if r, err := ncurl.Get(ctx, s.URL()+"/ok"); err != nil || r.Status != 201 {
		t.Fatalf("server did not live on: %v %+v", err, r)
	}
	if n := logs.FilterMessageSnippet("panicked").FilterField(zap.String("panic", "boom")).Len(); n != 1 {
		t.Fatalf("panic logged %d times, want 1: %v", n, logs.All())
	}
	if n := logs.FilterMessageSnippet("panicked").FilterField(zap.String("panic", "mounted boom")).Len(); n != 1 {
		t.Fatalf("mounted panic logged %d times, want 1", n)
	}
	if logs.FilterMessage("httpd: request handler failed").Len() != 1 {
		t.Fatal("handler error not logged")
	}
}

func TestBodyLimit(t *testing.T) {
	ctx := testCtx(t)
	s := serve(t, []httpd.Handler{
		httpd.Handle("/echo", echo, httpd.Method("POST")),
		httpd.Mount("/m", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var b [64]byte
			n, err := r.Body.Read(b[:])
			for err == nil {
				var k int
				k, err = r.Body.Read(b[:])
				n += k
			}
			if _, big := errors.AsType[*http.MaxBytesError](err); big {
				http.Error(w, "big", http.StatusRequestEntityTooLarge)
				return
			}
			_, _ = fmt.Fprint(w, n)
		}), httpd.Method("POST")),
	}, httpd.WithMaxBody(16))
	for _, c := range []struct {
		path   string
		n      int
		status int
	}{{"/echo", 16, 201}, {"/echo", 17, 413}, {"/m", 16, 200}, {"/m", 1000, 413}} {
		r, err := ncurl.Do(ctx, s.URL()+c.path, ncurl.Method("POST"), ncurl.Body(strings.Repeat("x", c.n)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != c.status {
			t.Fatalf("%s with %d bytes: status %d, want %d", c.path, c.n, r.Status, c.status)
		}
	}
	// A chunked body gives no length up front: the limit is met while
	// reading.
	status := rawRequest(t, s, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")
	if status != 413 {
		t.Fatalf("chunked oversize body: status %d, want 413", status)
	}
}

// rawRequest writes raw to the server and returns the response status.
func rawRequest(t *testing.T, s *httpd.Server, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestMalformedRequest(t *testing.T) {
	s := serve(t, []httpd.Handler{httpd.Handle("/", echo, httpd.Prefix())})
	if st := rawRequest(t, s, "THIS IS NOT HTTP\r\n\r\n"); st != 400 {
		t.Fatalf("status %d, want 400", st)
	}
	if st := rawRequest(t, s, "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"); st != 400 {
		t.Fatalf("status %d, want 400", st)
	}
	// The server lives on.
	if st := rawRequest(t, s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); st != 201 {
		t.Fatalf("status %d, want 201", st)
	}
}

func TestAsync(t *testing.T) {
	ctx := testCtx(t)
	loop, err := promises.NewLoop()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = loop.Close() })
	s := serve(t, []httpd.Handler{
		httpd.Async("/later", func(_ context.Context, req *httpd.Request) *promises.Promise[*httpd.Response] {
			p, resolve, _ := promises.NewResolver[*httpd.Response](loop)
			go resolve(&httpd.Response{Body: []byte("later " + req.URI)}) // settles from elsewhere
			return promises.Then(p, func(r *httpd.Response) (*httpd.Response, error) {
				r.Body = append(r.Body, '!')
				return r, nil
			})
		}),
		httpd.Async("/rejected", func(context.Context, *httpd.Request) *promises.Promise[*httpd.Response] {
			return promises.Rejected[*httpd.Response](loop, errors.New("no"))
		}),
	})
	r, err := ncurl.Get(ctx, s.URL()+"/later")
	if err != nil || r.Status != 200 || r.Text != "later /later!" {
		t.Fatalf("%v %+v", err, r)
	}
	r, err = ncurl.Get(ctx, s.URL()+"/rejected")
	if err != nil || r.Status != 500 {
		t.Fatalf("%v %+v", err, r)
	}
}

func TestConfigErrors(t *testing.T) {
	ok := httpd.Handle("/", echo)
	cases := []struct {
		name string
		url  string
		hs   []httpd.Handler
		opts []httpd.Option
		want error
	}{
		{"scheme", "tcp://127.0.0.1:0", nil, nil, nanoact.ErrAddrInvalid},
		{"parse", "http://[::1", nil, nil, nanoact.ErrInvalid},
		{"no host", "http:///x", nil, nil, nanoact.ErrInvalid},
		{"https without tls", "https://127.0.0.1:0", nil, nil, nanoact.ErrInvalid},
		{"duplicate", "http://127.0.0.1:0", []httpd.Handler{ok, httpd.Handle("/", echo)}, nil, nanoact.ErrAddrInUse},
		{"bad method", "http://127.0.0.1:0", []httpd.Handler{httpd.Handle("/", echo, httpd.Method("G T"))}, nil, nanoact.ErrInvalid},
		{"bad path", "http://127.0.0.1:0", []httpd.Handler{httpd.Handle("x", echo)}, nil, nanoact.ErrInvalid},
		{"redirect status", "http://127.0.0.1:0", []httpd.Handler{httpd.Redirect("/a", "/b", 200)}, nil, nanoact.ErrInvalid},
		{"send queue", "http://127.0.0.1:0", []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{}, httpd.SendQueue(0))}, nil, nanoact.ErrInvalid},
		{"nil handler", "http://127.0.0.1:0", []httpd.Handler{nil}, nil, nanoact.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := httpd.New(c.url, c.hs, c.opts...)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Same path, other method: fine.
	if _, err := httpd.New("http://127.0.0.1:0", []httpd.Handler{ok, httpd.Handle("/", echo, httpd.Method("POST"))}); err != nil {
		t.Fatal(err)
	}
}

func TestLifecycle(t *testing.T) {
	ctx := testCtx(t)
	s, err := httpd.New("http://127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "< nanoServer | url: http://127.0.0.1:0 | state: new >" {
		t.Fatalf("String() = %q", got)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "< nanoServer | url: "+s.URL()+" | state: started >" {
		t.Fatalf("String() = %q", got)
	}
	if err := s.Start(); !errors.Is(err, nanoact.ErrState) {
		t.Fatalf("second Start: %v", err)
	}
	if strings.HasSuffix(s.URL(), ":0") {
		t.Fatalf("URL %s does not report the bound port", s.URL())
	}
	// Another server on the same port.
	s2, err := httpd.New(s.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); !errors.Is(err, nanoact.ErrAddrInUse) {
		t.Fatalf("Start on a taken port: %v", err)
	}
	_ = s2.Close()
	// Handlers may be added while serving.
	if err := s.Handle(httpd.Inline("/late", []byte("late"), "text/plain")); err != nil {
		t.Fatal(err)
	}
	if r, err := ncurl.Get(ctx, s.URL()+"/late"); err != nil || r.Text != "late" {
		t.Fatalf("%v %+v", err, r)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("second Shutdown: %v", err)
	}
	if !strings.HasSuffix(s.String(), "state: closed >") {
		t.Fatalf("String() = %q", s.String())
	}
	if err := s.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("Close after Shutdown: %v", err)
	}
	if err := s.Start(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("Start after Shutdown: %v", err)
	}
	if err := s.Handle(httpd.Handle("/x", echo)); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("Handle after Shutdown: %v", err)
	}
	if _, err := ncurl.Get(ctx, s.URL()+"/late"); !errors.Is(err, nanoact.ErrConnRefused) {
		t.Fatalf("request after Shutdown: %v", err)
	}
}

// Handlers and the Server are plain http.Handlers: mounted on another Go
// server, they serve the same.
func TestMountedOnAnotherServer(t *testing.T) {
	ctx := testCtx(t)
	router, err := httpd.New("http://127.0.0.1:0", []httpd.Handler{httpd.Handle("/r/echo", echo, httpd.Method("POST"))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/h", httpd.Handle("/h", echo, httpd.Method("*")))
	mux.Handle("/r/", router)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer func() { _ = router.Close() }()
	for _, p := range []string{"/h", "/r/echo"} {
		r, err := ncurl.Do(ctx, ts.URL+p, ncurl.Method("POST"), ncurl.Body("b"))
		if err != nil || r.Status != 201 || r.Text != "b" {
			t.Fatalf("%s: %v %+v", p, err, r)
		}
	}
}
