package httpd

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/httptoken"
)

// Pattern says which requests a handler serves: those whose path is Path
// (or, with Prefix, lies under Path) and whose method is Method ("*" for
// any), as nanonext's handler(path, method, prefix).
type Pattern struct {
	// Path is the URL path, starting with "/".
	Path string
	// Method is an HTTP method ("GET", "POST", …) or "*" for any. A GET
	// pattern also serves HEAD unless a HEAD pattern exists for the path.
	Method string
	// Prefix makes Path match itself and every path under it: "/api"
	// matches "/api" and "/api/users" but not "/apiary"; "/" matches
	// everything.
	Prefix bool
}

// String describes the pattern: "GET /api/…" for a prefix, "* /x" for any
// method.
func (p Pattern) String() string {
	if p.Prefix {
		return p.Method + " " + strings.TrimSuffix(p.Path, "/") + "/…"
	}
	return p.Method + " " + p.Path
}

// matches reports whether path is p.Path or, for a prefix, under it.
func (p Pattern) matches(path string) bool {
	if path == p.Path {
		return true
	}
	if !p.Prefix || !strings.HasPrefix(path, p.Path) {
		return false
	}
	return strings.HasSuffix(p.Path, "/") || path[len(p.Path)] == '/'
}

// Handler is what a Server routes requests to: an http.Handler with the
// Pattern it serves. Every handler this package makes (Handle, Async, WS,
// Stream, File, Directory, Inline, Redirect, Mount) is one, and so can
// also be mounted on any other Go server (an http.ServeMux, say) as a plain
// http.Handler. Users may implement it too.
type Handler interface {
	http.Handler
	// Pattern returns where the handler is served. It must not change
	// once the handler is given to a Server.
	Pattern() Pattern
}

// HandlerOption configures a handler made by this package. Options that do
// not apply to a kind of handler are ignored by it (each says which kinds
// it applies to). Invalid values make New or Server.Handle fail with
// ErrInvalid; a handler served on its own with an invalid option answers
// 500.
type HandlerOption interface{ applyHandler(*handlerConfig) }

type handlerOptionFunc func(*handlerConfig)

func (f handlerOptionFunc) applyHandler(c *handlerConfig) { f(c) }

// handlerConfig is every handler option's destination.
type handlerConfig struct {
	pattern      Pattern
	text         bool
	sendQueue    int
	pingInterval time.Duration
	writeTimeout time.Duration
	err          error
}

func (c *handlerConfig) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

func newHandlerConfig(path, method string, prefix bool, opts []HandlerOption) handlerConfig {
	c := handlerConfig{
		pattern:      Pattern{Path: path, Method: method, Prefix: prefix},
		sendQueue:    DefaultSendQueue,
		pingInterval: DefaultPingInterval,
		writeTimeout: DefaultWriteTimeout,
	}
	if !strings.HasPrefix(path, "/") {
		c.fail("path %q does not start with /", path)
	}
	for _, o := range opts {
		if o != nil {
			o.applyHandler(&c)
		}
	}
	return c
}

// Method sets the method a handler serves: an HTTP token such as "POST",
// or "*" for any. Defaults: "GET" for Handle, Async, File, Directory and
// Inline (which also serve HEAD); "*" for Stream, Redirect and Mount. WS
// handlers ignore it: an upgrade is always a GET.
func Method(m string) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if m != "*" && !validToken(m) {
			c.fail("invalid method %q", m)
			return
		}
		c.pattern.Method = m
	})
}

// Prefix makes a handler serve every path under its own as well (see
// Pattern.Prefix): nanonext's prefix = TRUE. Directory handlers always
// match by prefix.
func Prefix() HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.pattern.Prefix = true })
}

// validToken reports whether s is a non-empty HTTP token.
func validToken(s string) bool { return httptoken.Valid(s) }

// env is what a Server gives its handlers: the logger, the body limit and
// the connection ID counter shared by every websocket and stream
// connection, so that IDs are unique server-wide as in nanonext. A handler
// served on its own uses a private one with the defaults.
type env struct {
	log     *zap.Logger
	maxBody int64 // < 0: no limit
	ids     *atomic.Uint64
}

func newEnv(log *zap.Logger, maxBody int64) *env {
	return &env{log: log, maxBody: maxBody, ids: new(atomic.Uint64)}
}

// base is the part every handler of this package shares.
type base struct {
	cfg handlerConfig
	e   atomic.Pointer[env]
}

func (b *base) init(cfg handlerConfig) {
	b.cfg = cfg
	b.e.Store(newEnv(zap.NewNop(), DefaultMaxBody))
}

// Pattern returns where the handler is served.
func (b *base) Pattern() Pattern { return b.cfg.pattern }

func (b *base) env() *env { return b.e.Load() }

func (b *base) bind(e *env) { b.e.Store(e) }

func (b *base) valid() error { return b.cfg.err }

// prelude starts serving a request to a handler that reads the body: it
// answers 500 for an invalid handler and 413 or 400 for a body that cannot
// be read, and then ok is false.
func (b *base) prelude(w http.ResponseWriter, r *http.Request) (e *env, body []byte, ok bool) {
	e = b.env()
	if b.cfg.err != nil {
		invalid(w, e, b.cfg.pattern, b.cfg.err)
		return e, nil, false
	}
	body, ok = readBody(w, r, e.maxBody)
	return e, body, ok
}

// bound is implemented by this package's handlers: a Server checks their
// options and hands them its env.
type bound interface {
	valid() error
	bind(*env)
}

// connHolder is implemented by handlers that keep connections open (WS,
// Stream): a Server's Shutdown and Close end them.
type connHolder interface {
	// endConns asks every connection to end (gracefully) and refuses new
	// ones; abort closes them at once. Neither waits.
	endConns(abort bool)
	// waitConns blocks until every connection's goroutines have returned.
	waitConns()
}

// table is an immutable routing table; a Server swaps in a new one when a
// handler is added.
type table struct {
	exact    map[string][]Handler
	prefixes []prefixGroup // longest path first
	all      []Handler
}

type prefixGroup struct {
	pattern Pattern // Path only
	hs      []Handler
}

// withHandler returns a new table with h added, or ErrAddrInUse when a
// handler with the same path, method and prefix exists (NNG refuses such a
// handler the same way).
func (t *table) withHandler(h Handler) (*table, error) {
	p := h.Pattern()
	for _, o := range t.all {
		op := o.Pattern()
		if op.Path == p.Path && op.Prefix == p.Prefix && op.Method == p.Method {
			return nil, nanoact.Errorf(nanoact.CodeAddrInUse, "httpd: handle "+p.String(), "a handler for %s exists", op)
		}
	}
	n := &table{exact: map[string][]Handler{}, all: append(append([]Handler(nil), t.all...), h)}
	groups := map[string]*prefixGroup{}
	for _, x := range n.all {
		xp := x.Pattern()
		if !xp.Prefix {
			n.exact[xp.Path] = append(n.exact[xp.Path], x)
			continue
		}
		g := groups[xp.Path]
		if g == nil {
			g = &prefixGroup{pattern: Pattern{Path: xp.Path, Prefix: true}}
			groups[xp.Path] = g
		}
		g.hs = append(g.hs, x)
	}
	for _, g := range groups {
		n.prefixes = append(n.prefixes, *g)
	}
	sort.Slice(n.prefixes, func(i, j int) bool { return len(n.prefixes[i].pattern.Path) > len(n.prefixes[j].pattern.Path) })
	return n, nil
}

// lookup finds the handlers for path: those registered for exactly that
// path, else the group of the longest matching prefix. Exact patterns win
// over prefixes, as in NNG.
func (t *table) lookup(path string) []Handler {
	if hs, ok := t.exact[path]; ok {
		return hs
	}
	for _, g := range t.prefixes {
		if g.pattern.matches(path) {
			return g.hs
		}
	}
	return nil
}

// pick chooses among the handlers of one path by method: the exact method,
// else "*", else a GET handler for HEAD. nil when none serves the method.
func pick(hs []Handler, method string) Handler {
	var any, get Handler
	for _, h := range hs {
		switch h.Pattern().Method {
		case method:
			return h
		case "*":
			any = h
		case http.MethodGet:
			get = h
		}
	}
	if any != nil {
		return any
	}
	if method == http.MethodHead {
		return get
	}
	return nil
}

// allow lists the methods hs serve, for a 405's Allow header.
func allow(hs []Handler) string {
	var ms []string
	for _, h := range hs {
		m := h.Pattern().Method
		ms = append(ms, m)
		if m == http.MethodGet {
			ms = append(ms, http.MethodHead)
		}
	}
	return strings.Join(ms, ", ")
}
