package ncurl

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/transport"
)

// Do performs one HTTP transaction with url, configured by opts, and
// returns its response (nanonext's ncurl). It blocks until the whole
// response has been read, the Timeout option or ctx's deadline passes
// (ErrTimedOut), or ctx is cancelled (ErrCanceled); ending ctx cancels the
// request, since nothing else could receive its result. See the package
// doc for the other errors. Any status, 404 or 500 included, is a
// Response, not an error.
//
// Do opens one connection (one per redirect hop with Follow) and closes it
// before returning; it starts no goroutine. A small GET over loopback, the
// server in the same process, takes 0.2–0.4 ms and 93 allocations (15 KB,
// server included) on a 2-CPU machine, as net/http's client does without
// keep-alive (BenchmarkGet, BenchmarkHTTPClient). It is safe for
// concurrent use.
func Do(ctx context.Context, url string, opts ...Option) (*Response, error) {
	r, err := newRequest(url, opts)
	if err != nil {
		return nil, err
	}
	return r.do(ctx)
}

// Get is Do with the GET method, whatever Method option is given.
func Get(ctx context.Context, url string, opts ...Option) (*Response, error) {
	return Do(ctx, url, append(opts[:len(opts):len(opts)], Method(http.MethodGet))...)
}

// request is a validated one-shot transaction.
type request struct {
	url *url.URL
	cfg config
}

// newRequest validates opts and rawURL.
func newRequest(rawURL string, opts []Option) (*request, error) {
	cfg := newConfig(opts)
	if cfg.err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: "ncurl: " + cfg.method + " " + rawURL, Err: cfg.err}
	}
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, withOp(err, "ncurl: "+cfg.method+" "+rawURL)
	}
	return &request{url: u, cfg: cfg}, nil
}

// parseURL accepts absolute http and https URLs with a host. A string that
// is not such a URL is ErrInvalid; an absolute URL with another scheme is
// ErrAddrInvalid, as NNG's HTTP client reports.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Err: err}
	}
	if !strings.Contains(raw, "://") || u.Opaque != "" {
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Err: errors.New("not an absolute url")}
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		u.Scheme = strings.ToLower(u.Scheme)
	default:
		return nil, &nanoact.Error{Code: nanoact.CodeAddrInvalid, Err: fmt.Errorf("unsupported scheme %q", u.Scheme)}
	}
	if u.Hostname() == "" {
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Err: errors.New("missing host")}
	}
	return u, nil
}

func withOp(err error, op string) error {
	var ne *nanoact.Error
	if errors.As(err, &ne) {
		return &nanoact.Error{Code: ne.Code, Op: op, Err: ne.Err}
	}
	return &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: err}
}

// opName is the Op of errors about a transaction with u.
func opName(method string, u *url.URL) string {
	return "ncurl: " + method + " " + u.Redacted()
}

// do runs the transaction, following redirects if asked.
func (r *request) do(ctx context.Context) (*Response, error) {
	if r.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.timeout)
		defer cancel()
	}
	u, cfg := r.url, &r.cfg
	for hops := 0; ; hops++ {
		op := opName(cfg.method, u)
		hr, body, err := roundTrip(ctx, u, cfg)
		if err != nil {
			return nil, mapErr(ctx, err, op)
		}
		if cfg.follow && hr.StatusCode >= 300 && hr.StatusCode < 400 {
			if next, ok := location(u, hr); ok {
				if hops == MaxRedirects {
					return nil, &nanoact.Error{Code: nanoact.CodeProtocol, Op: op,
						Err: fmt.Errorf("stopped after %d redirects", MaxRedirects)}
				}
				if next.Host != u.Host && hasSensitive(cfg.headers) {
					c := *cfg
					c.headers = dropSensitive(cfg.headers)
					cfg = &c
				}
				u = next
				continue
			}
		}
		return newResponse(hr, body, cfg, true), nil
	}
}

// location resolves hr's Location against u; ok is false if there is none
// or it is not an http(s) URL with a host.
func location(u *url.URL, hr *http.Response) (*url.URL, bool) {
	loc := hr.Header.Get("Location")
	if loc == "" {
		return nil, false
	}
	next, err := u.Parse(loc)
	if err != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Hostname() == "" {
		return nil, false
	}
	return next, true
}

// sensitive headers are not sent on to another host by a redirect (Go's
// http.Client rule).
func isSensitive(name string) bool {
	for _, s := range [...]string{"Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization"} {
		if strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

func hasSensitive(hs []header) bool {
	for _, h := range hs {
		if isSensitive(h.name) {
			return true
		}
	}
	return false
}

func dropSensitive(hs []header) []header {
	out := make([]header, 0, len(hs))
	for _, h := range hs {
		if !isSensitive(h.name) {
			out = append(out, h)
		}
	}
	return out
}

// roundTrip connects to u, exchanges one request and closes the
// connection.
func roundTrip(ctx context.Context, u *url.URL, cfg *config) (*http.Response, []byte, error) {
	c, err := dial(ctx, u, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer c.nc.Close()
	req, err := cfg.newHTTPRequest(u)
	if err != nil {
		return nil, nil, err
	}
	req.Close = true // one transaction per connection, as NNG's client
	return c.exchange(ctx, req)
}

// newHTTPRequest builds the request for u from cfg. Its context is unused:
// exchange enforces the deadline on the connection itself.
func (cfg *config) newHTTPRequest(u *url.URL) (*http.Request, error) {
	var body io.Reader
	if len(cfg.body) > 0 {
		body = bytes.NewReader(cfg.body)
	}
	req, err := http.NewRequest(cfg.method, u.String(), body)
	if err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Err: err}
	}
	for _, h := range cfg.headers {
		if strings.EqualFold(h.name, "Host") {
			req.Host = h.value
			continue
		}
		req.Header.Set(h.name, h.value)
	}
	return req, nil
}

// conn is one client connection with its buffers.
type conn struct {
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// dial connects to u's host (port 80 or 443 by default), with a TLS
// handshake for https.
func dial(ctx context.Context, u *url.URL, cfg *config) (*conn, error) {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	addr := net.JoinHostPort(host, port)
	var (
		nc  net.Conn
		err error
		nd  net.Dialer
	)
	if u.Scheme == "https" {
		td := tls.Dialer{NetDialer: &nd, Config: cfg.tlsConfig(host)}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = nd.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc)}, nil
}

// tlsConfig returns the client config for host: a clone of the TLS
// option's, or a new one verifying against the system roots, made to check
// the server's name as NNG does (transport.VerifyLikeNNG).
func (cfg *config) tlsConfig(host string) *tls.Config {
	var tc *tls.Config
	if cfg.tls != nil {
		tc = cfg.tls.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if cfg.insecure {
		tc.InsecureSkipVerify = true
	}
	tc.NextProtos = []string{"http/1.1"}
	// Verify the server as NNG (and so nanonext's ncurl) does: a
	// certificate without alternative names is checked against its CN.
	return transport.VerifyLikeNNG(tc)
}

// aLongTimeAgo is a deadline in the past, which aborts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// maxPrealloc caps the buffer allocated up front from a Content-Length.
const maxPrealloc = 64 << 20

// exchange writes req on c and reads the final response and its whole
// body. ctx ending aborts the I/O by moving the connection's deadline into
// the past; the connection is then unusable. No goroutine is started
// unless ctx ends during the exchange (context.AfterFunc).
func (c *conn) exchange(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		return nil, nil, err
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetDeadline(aLongTimeAgo)
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired // the deadline must be set before the connection is reused
		}
	}()

	if err := req.Write(c.bw); err != nil {
		return nil, nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	var hr *http.Response
	for {
		var err error
		hr, err = http.ReadResponse(c.br, req)
		if err != nil {
			return nil, nil, err
		}
		// Skip interim responses (100 Continue, 103 Early Hints).
		if hr.StatusCode < 100 || hr.StatusCode >= 200 || hr.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	defer hr.Body.Close()
	var buf bytes.Buffer
	if n := hr.ContentLength; n > 0 {
		buf.Grow(int(min(n, maxPrealloc)))
	}
	if _, err := buf.ReadFrom(hr.Body); err != nil {
		return nil, nil, err
	}
	return hr, buf.Bytes(), nil
}

// mapErr turns a transport failure into a *nanoact.Error: ctx's end when
// ctx has ended (so a time-out matches both ErrTimedOut and
// context.DeadlineExceeded), otherwise the NNG code of err. Malformed HTTP,
// which nngerr does not know, is ErrProtocol.
func mapErr(ctx context.Context, err error, op string) error {
	if e := nanoact.FromContext(ctx, op); e != nil {
		return e
	}
	var ne *nanoact.Error
	if errors.As(err, &ne) {
		return withOp(err, op)
	}
	code := nngerr.Code(err)
	if code == nanoact.CodeInternal {
		code = nanoact.CodeProtocol
	}
	return &nanoact.Error{Code: code, Op: op, Err: err}
}
