package dashboard_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/dashboard"
	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/ncurl"
)

// Listen serves the page, its stream, the dispatcher's metrics and extra
// handlers on one port of its own; Close ends an open stream and the
// server; a taken port is ErrAddrInUse.
func TestListen(t *testing.T) {
	f := newFixture(t, 1)
	ctx := testkit.CtxT(t)
	f.run(t, ctx, 3)
	s, err := dashboard.Listen(f.d, "127.0.0.1:0", dashboard.WithMetricsName("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	hi := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hi "+r.URL.Path) })
	if err := s.Handle("/hello", hi); err != nil {
		t.Fatal(err)
	}
	if err := s.Handle("/tree/", hi); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/metrics", "/hello", "/tree/"} {
		if err := s.Handle(p, hi); !errors.Is(err, nanoact.ErrAddrInUse) {
			t.Fatalf("Handle(%q) again: %v", p, err)
		}
	}
	if err := s.Handle("nohead", hi); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf("Handle without a leading /: %v", err)
	}
	if err := s.Handle("/nil", nil); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf("Handle of nil: %v", err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/") || s.URL() != s.HTTP().URL()+"/" {
		t.Fatalf("URL %q, httpd's %q", s.URL(), s.HTTP().URL())
	}
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_extra_total", Help: "A collector the program adds."})
	extra.Add(7)
	s.Registry().MustRegister(extra)
	for path, want := range map[string]string{
		"":              `id="completed"`,
		"hello":         "hi /hello",
		"tree/a/b":      "hi /tree/a/b",
		"snapshot.json": `"completed":3`,
		// The same server's /metrics: the dispatcher's, its socket's, the
		// runtime's and what the program registered.
		"metrics":    `nanoact_runner_tasks_completed_total{runner="test"} 3`,
		"metrics?":   `nanoact_socket_pipes{socket="test"} 1`,
		"metrics?go": "go_goroutines ",
		"metrics?x":  "test_extra_total 7",
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Fatalf("GET /%s: %s lacks %q", path, resp.Status, want)
		}
	}
	st := openStream(t, ctx, s.URL()+"events")
	defer st.resp.Body.Close()
	if _, err := st.next(); err != nil {
		t.Fatal(err)
	}
	if _, err := dashboard.Listen(f.d, strings.TrimSuffix(strings.TrimPrefix(s.URL(), "http://"), "/")); !errors.Is(err, nanoact.ErrAddrInUse) {
		t.Fatalf("second Listen on the same port: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Dashboard().Clients() != 0 {
		t.Fatal("a stream outlived Close")
	}
	for {
		if _, err := st.next(); err != nil {
			break // the stream ended with the server
		}
	}
}

// Serve refuses a URL it cannot serve, with nothing left running (goleak
// checks the dashboard's goroutine).
func TestServeURLs(t *testing.T) {
	f := newFixture(t, 0)
	for url, want := range map[string]error{
		"ftp://127.0.0.1:0":   nanoact.ErrAddrInvalid,
		"https://127.0.0.1:0": nanoact.ErrInvalid, // no TLS config
		"http://":             nanoact.ErrInvalid,
	} {
		if s, err := dashboard.Serve(f.d, url); !errors.Is(err, want) {
			if s != nil {
				_ = s.Close()
			}
			t.Fatalf("Serve(%q): %v, want %v", url, err, want)
		}
	}
	if _, err := dashboard.Serve(nil, "http://127.0.0.1:0"); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf("Serve of a nil dispatcher: %v", err)
	}
}

// Serve on https:// with WithHTTP's TLS config serves the page and
// /metrics over TLS.
func TestServeTLS(t *testing.T) {
	f := newFixture(t, 0)
	ctx := testkit.CtxT(t)
	cfg, cert := testkit.SelfSignedServer(t, "127.0.0.1")
	s, err := dashboard.Serve(f.d, "https://127.0.0.1:0", dashboard.WithHTTP(httpd.WithTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %q", s.URL())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert)
	for path, want := range map[string]string{"": `id="completed"`, "metrics": `nanoact_runner_connections{runner="dispatcher"} 0`} {
		r, err := ncurl.Get(ctx, s.URL()+path, ncurl.TLS(&tls.Config{RootCAs: pool}))
		if err != nil {
			t.Fatalf("GET /%s over TLS: %v", path, err)
		}
		if r.Status != http.StatusOK || !strings.Contains(r.Text, want) {
			t.Fatalf("GET /%s over TLS: %d, lacks %q", path, r.Status, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
