package httpd_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/ncurl"
	"github.com/nanoact/nanoact/sockets"
)

func TestStaticHandlers(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("www/index.html", "<p>home</p>")
	write("www/css/a.css", "p{}")
	write("www/empty/.keep", "")
	write("secret.txt", "secret")
	s := serve(t, []httpd.Handler{
		httpd.File("/favicon.txt", filepath.Join(dir, "secret.txt")),
		httpd.File("/missing", filepath.Join(dir, "nope")),
		httpd.Directory("/static", filepath.Join(dir, "www")),
		httpd.Inline("/robots.txt", []byte("User-agent: *"), "text/plain"),
		httpd.Inline("/blob", []byte{1, 2, 3}, ""),
		httpd.Redirect("/old", "/new", 301),
		httpd.Redirect("/app", "https://example.com/app/", 308, httpd.Prefix()),
	})
	cases := []struct {
		path, status, body, ctype, location string
	}{
		{"/favicon.txt", "200", "secret", "text/plain; charset=utf-8", ""},
		{"/missing", "404", "", "", ""},
		{"/static/", "200", "<p>home</p>", "text/html; charset=utf-8", ""},
		{"/static/css/a.css", "200", "p{}", "text/css; charset=utf-8", ""},
		{"/static/empty/", "404", "", "", ""},
		{"/static/nope.js", "404", "", "", ""},
		{"/static/../secret.txt", "404", "", "", ""},
		{"/static/%2e%2e/secret.txt", "404", "", "", ""},
		{"/robots.txt", "200", "User-agent: *", "text/plain", ""},
		{"/blob", "200", "\x01\x02\x03", "application/octet-stream", ""},
		{"/old", "301", "", "", "/new"},
		{"/app/x/y", "308", "", "", "https://example.com/app/"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r, err := ncurl.Get(ctx, s.URL()+c.path, ncurl.ResponseHeaders("Content-Type", "Location"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strconv.Itoa(r.Status); got != c.status {
				t.Fatalf("status %s, want %s", got, c.status)
			}
			if c.body != "" && string(r.Data) != c.body {
				t.Fatalf("body %q, want %q", r.Data, c.body)
			}
			if c.ctype != "" && r.Headers["Content-Type"] != c.ctype {
				t.Fatalf("Content-Type %q, want %q", r.Headers["Content-Type"], c.ctype)
			}
			if c.location != "" && r.Headers["Location"] != c.location {
				t.Fatalf("Location %q, want %q", r.Headers["Location"], c.location)
			}
		})
	}
	// Following the redirect lands on the inline handler's neighbour.
	r, err := ncurl.Get(ctx, s.URL()+"/old", ncurl.Follow(true))
	if err != nil || r.Status != 404 {
		t.Fatalf("follow: %v %+v", err, r)
	}
}

// HTTPS with a certificate from WriteCert and the sockets' TLS configs:
// ncurl and a wss:// DialStream both verify it.
func TestTLS(t *testing.T) {
	ctx := testCtx(t)
	srvCfg, cert := testkit.SelfSignedServer(t, "127.0.0.1")
	s := serveURL(t, "https://127.0.0.1:0", []httpd.Handler{
		httpd.Handle("/hello", func(_ context.Context, req *httpd.Request) (*httpd.Response, error) {
			if req.HTTP.TLS == nil {
				return &httpd.Response{Status: 500}, nil
			}
			return &httpd.Response{Body: []byte("secure")}, nil
		}),
		httpd.WS("/ws", httpd.WSEvents{Message: func(c *httpd.WSConn, data []byte) { _ = c.Send(data) }}),
	}, httpd.WithTLS(srvCfg))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert)
	r, err := ncurl.Get(ctx, s.URL()+"/hello", ncurl.TLS(&tls.Config{RootCAs: pool}))
	if err != nil || r.Status != 200 || r.Text != "secure" {
		t.Fatalf("%v %+v", err, r)
	}
	// Without the CA the certificate does not verify.
	if _, err := ncurl.Get(ctx, s.URL()+"/hello"); err == nil {
		t.Fatal("unverified certificate accepted")
	}
	cliCfg, err := sockets.NewTLSClient(sockets.TLSCA(cert))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sockets.DialStream(ctx, wsURL(s, "/ws"), sockets.TLS(cliCfg))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	if err := st.Send(ctx, []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	m, err := st.Recv(ctx)
	if err != nil || string(m.Body) != "over tls" {
		t.Fatalf("%v %q", err, m.Body)
	}
	// A TLS config on an http URL, or a client config, is refused.
	if _, err := httpd.New("http://127.0.0.1:0", nil, httpd.WithTLS(srvCfg)); err == nil {
		t.Fatal("http with TLS accepted")
	}
	if _, err := httpd.New("https://127.0.0.1:0", nil, httpd.WithTLS(cliCfg)); err == nil {
		t.Fatal("client TLS config accepted")
	}
}
