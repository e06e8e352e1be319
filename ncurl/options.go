package ncurl

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nanoact/nanoact/internal/httptoken"
)

// MaxRedirects is the number of redirects Follow pursues before the call
// fails with ErrProtocol. nanonext follows without limit; Go's http.Client
// stops after 10 as well.
const MaxRedirects = 10

// Option configures a request. Do, Get, DoAsync, NewSession and Transact
// take any number of options, applied in order, and validate them before
// anything is sent: an invalid value fails the call with ErrInvalid. A nil
// Option is ignored.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type header struct{ name, value string }

// config is the validated request description. Copies share body and the
// tls config, which are never modified.
type config struct {
	method   string
	headers  []header
	body     []byte
	timeout  time.Duration
	response []string
	convert  bool
	follow   bool
	tls      *tls.Config
	insecure bool

	connOpts bool  // TLS or Insecure given: fixed once a session connects
	err      error // first invalid value met
}

func newConfig(opts []Option) config {
	c := config{method: http.MethodGet, convert: true}
	c.apply(opts)
	return c
}

// apply applies opts to c; the first invalid value is kept in c.err.
func (c *config) apply(opts []Option) {
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
}

func (c *config) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

// Method sets the request method, for example "POST". Any token is
// accepted, as in nanonext; an empty string restores the default, "GET".
// Get ignores it.
func Method(m string) Option {
	return optionFunc(func(c *config) {
		switch {
		case m == "":
			c.method = http.MethodGet
		case !validToken(m):
			c.fail("invalid method %q", m)
		default:
			c.method = m
		}
	})
}

// Header sets the request header name to value, replacing the value set
// by an earlier Header for the same name (names are case-insensitive).
// Setting "Host" changes the Host header the request carries, not where it
// is sent. A name that is not an HTTP token, or a value holding CR, LF or
// NUL, is invalid. For a Session, headers given to Transact are set on top
// of those given to NewSession.
func Header(name, value string) Option {
	return optionFunc(func(c *config) {
		if !validToken(name) {
			c.fail("invalid header name %q", name)
			return
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			c.fail("invalid value for header %q", name)
			return
		}
		for i, h := range c.headers {
			if strings.EqualFold(h.name, name) {
				c.headers[i].value = value
				return
			}
		}
		c.headers = append(c.headers, header{name, value})
	})
}

// Body sets the request body, sent as is with a Content-Length header. A
// string is copied; a []byte is not, and must not be modified while a
// call, Call or Session that uses it is in flight. A nil or empty body
// sends no body. For a Session, Body given to NewSession is sent by every
// Transact that does not give its own.
func Body[T ~string | ~[]byte](b T) Option {
	body := []byte(b)
	return optionFunc(func(c *config) { c.body = body })
}

// Timeout bounds the whole transaction: connecting, the TLS handshake,
// sending, and reading the full response, every redirect hop included.
// When it passes the call fails with ErrTimedOut, which also matches
// context.DeadlineExceeded. Zero, the default, means no time-out other than
// ctx's; a negative value is invalid. For NewSession it bounds connecting;
// for Transact, each transaction.
func Timeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.fail("negative timeout %v", d)
			return
		}
		c.timeout = d
	})
}

// ResponseHeaders names the response headers to return in
// Response.Headers (nanonext's response argument), matched
// case-insensitively; a header the server did not send is absent from the
// map. It replaces the names of an earlier ResponseHeaders. By default no
// headers are returned (Headers is nil), except Location on a 3xx status
// from Do, Get or DoAsync, which is always added so that a redirect not
// followed shows where it leads.
func ResponseHeaders(names ...string) Option {
	names = append([]string(nil), names...)
	return optionFunc(func(c *config) { c.response = names })
}

// Convert chooses whether the body is also returned as text in
// Response.Text (true, the default) or as bytes only (false). Conversion
// follows nanonext's string rule: a body without NUL bytes, or whose only
// NUL is its last byte, converts (without that NUL); any other body does
// not, and Response.Converted reports false. Converting copies the body
// once.
func Convert(text bool) Option {
	return optionFunc(func(c *config) { c.convert = text })
}

// Follow chooses whether Do, Get and DoAsync follow redirects (default
// false). When true, a 3xx response whose Location header parses as an
// http or https URL (relative ones are resolved against the request URL)
// is followed by repeating the same request (method, headers and body) to
// that URL, up to MaxRedirects hops; then the call fails with ErrProtocol.
// A 3xx response without a usable Location is returned as it is. Sessions
// never follow: Follow(true) is invalid for NewSession and Transact.
func Follow(follow bool) Option {
	return optionFunc(func(c *config) { c.follow = follow })
}

// TLS sets the configuration for https URLs: typically RootCAs to verify
// the server against, and Certificates for client authentication. The
// config is cloned, never modified; its ServerName defaults to the URL's
// host, and NextProtos is set to HTTP/1.1. A nil config means the default:
// verification against the system roots. It is ignored for http URLs, and
// invalid for Transact (the session's connection is already made).
func TLS(cfg *tls.Config) Option {
	return optionFunc(func(c *config) {
		c.tls = cfg
		c.connOpts = true
	})
}

// Insecure turns off verification of the server's certificate for https
// URLs, on top of any TLS config. nanonext does this whenever no TLS
// config is given; here it must be asked for. Use it only for testing. It
// is invalid for Transact.
func Insecure() Option {
	return optionFunc(func(c *config) {
		c.insecure = true
		c.connOpts = true
	})
}

// validToken reports whether s is a non-empty HTTP token (RFC 9110
// §5.6.2), as header names and methods must be.
func validToken(s string) bool { return httptoken.Valid(s) }
