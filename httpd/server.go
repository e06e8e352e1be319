package httpd

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/sockets"
)

// DefaultMaxBody is the default request body limit (WithMaxBody): 1 MiB.
const DefaultMaxBody = 1 << 20

const (
	readHeaderTimeout = 30 * time.Second // against clients that trickle headers
	idleTimeout       = 2 * time.Minute  // kept-alive connections between requests
)

// Option configures a Server in New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	log     *zap.Logger
	tls     *sockets.TLSConfig
	maxBody int64
	err     error
}

// WithLogger sets the server's logger (default zap.NewNop()): handler
// failures and panics at Error, clients that do not read at Warn, and
// net/http's own messages (TLS handshake failures, malformed requests) at
// Debug. nil means the default.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.log = l
		}
	})
}

// WithTLS sets the server's TLS config, built by sockets.NewTLSServer
// (for instance with a certificate from sockets.WriteCert), as nanonext's
// http_server(tls = ). It is required for an https:// URL and refused for
// an http:// one (ErrInvalid), as is a client config. The server speaks
// HTTP/1.1 only over TLS too (websockets need it), and client certificates
// are asked for as the config's auth mode says.
func WithTLS(cfg *sockets.TLSConfig) Option {
	return optionFunc(func(c *config) { c.tls = cfg })
}

// WithMaxBody sets the largest request body, in bytes, that handlers
// accept (default DefaultMaxBody, 1 MiB); a larger one is answered 413
// Request Entity Too Large, before it is read when Content-Length gives
// its size. It is also the largest message a websocket connection may
// receive (a larger one closes it with code 1009). A negative value means
// no limit; zero refuses every body. It applies to handlers given to New
// and Handle; it is fixed once New returns.
func WithMaxBody(n int64) Option {
	return optionFunc(func(c *config) { c.maxBody = n })
}

// Server is an HTTP server on one http:// or https:// URL, routing to
// handlers by path, method and prefix (nanonext's http_server): REST
// handlers, websockets, streams and Server-Sent Events, files, and any
// http.Handler, on one port. It is made by New, serves once Started, and
// must be closed with Shutdown or Close.
//
// A Server is itself an http.Handler (its router), so it can also be
// mounted on another Go server without being Started; Shutdown or Close
// then still end its websocket and stream connections.
type Server struct {
	op     string
	scheme string // "http" or "https"
	addr   string // host:port to listen on
	tls    *tls.Config
	log    *zap.Logger
	env    *env
	tbl    atomic.Pointer[table]

	gate     sync.RWMutex   // held shared while a request is admitted
	shut     bool           // under gate: no more requests
	inflight sync.WaitGroup // requests being served; Add under gate

	mu    sync.Mutex // guards the fields below and table swaps
	url   string
	state int // 0 new, 1 started, 2 closed
	hs    *http.Server
	wg    sync.WaitGroup // the Serve goroutine
}

const (
	stateNew = iota
	stateStarted
	stateClosed
)

// New builds a server for url with handlers and returns it without
// listening; Start listens. url is "http://host:port" or
// "https://host:port" (a path, if any, is ignored; no port means 80 or
// 443; port 0 binds a free port, which URL reports after Start). It does
// not block.
//
// Errors: ErrInvalid for a URL that does not parse, a handler whose
// options are invalid, https without WithTLS (or http with it), or a
// client TLS config; ErrAddrInvalid for a scheme other than http or
// https; ErrAddrInUse for two handlers with the same path, method and
// prefix.
func New(rawURL string, handlers []Handler, opts ...Option) (*Server, error) {
	op := "httpd: new server " + rawURL
	cfg := config{log: zap.NewNop(), maxBody: DefaultMaxBody}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: err}
	}
	s := &Server{op: op, scheme: u.Scheme, log: cfg.log.Named("httpd")}
	port := u.Port()
	switch u.Scheme {
	case "http":
		if cfg.tls != nil {
			return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "WithTLS given for an http:// URL: use https://")
		}
		if port == "" {
			port = "80"
		}
	case "https":
		if cfg.tls == nil {
			return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "an https:// server needs WithTLS")
		}
		tc, err := cfg.tls.ServerConfig()
		if err != nil {
			return nil, err
		}
		tc.NextProtos = []string{"http/1.1"}
		s.tls = tc
		if port == "" {
			port = "443"
		}
	default:
		return nil, nanoact.Errorf(nanoact.CodeAddrInvalid, op, "scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "URL needs a host (and no user info)")
	}
	s.addr = net.JoinHostPort(u.Hostname(), port)
	s.url = u.Scheme + "://" + s.addr
	s.env = newEnv(s.log, cfg.maxBody)
	s.tbl.Store(&table{exact: map[string][]Handler{}})
	for _, h := range handlers {
		if err := s.Handle(h); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Handle adds a handler, before or after Start; requests already being
// served are not affected. It does not block beyond a copy of the routing
// table. Errors: ErrInvalid for a nil handler or one with invalid options,
// ErrAddrInUse for one with the same path, method and prefix as another,
// ErrClosed after Shutdown or Close.
func (s *Server) Handle(h Handler) error {
	if h == nil {
		return nanoact.Errorf(nanoact.CodeInvalid, "httpd: handle", "nil handler")
	}
	p := h.Pattern()
	if !strings.HasPrefix(p.Path, "/") || (p.Method != "*" && !validToken(p.Method)) {
		return nanoact.Errorf(nanoact.CodeInvalid, "httpd: handle "+p.String(), "invalid pattern")
	}
	b, ours := h.(bound)
	if ours {
		if err := b.valid(); err != nil {
			return errInvalid(p, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return nanoact.Errorf(nanoact.CodeClosed, "httpd: handle "+p.String(), "server closed")
	}
	t, err := s.tbl.Load().withHandler(h)
	if err != nil {
		return err
	}
	if ours {
		b.bind(s.env)
	}
	s.tbl.Store(t)
	return nil
}

// Start listens on the server's URL and serves in one goroutine until
// Shutdown or Close (net/http adds one per connection); it returns once
// listening. A client has 30 s to send a request's headers, and an idle
// kept-alive connection is closed after 2 minutes. Errors: ErrAddrInUse when
// the port is taken, ErrAddrInvalid for a host that does not resolve,
// ErrState when already started, ErrClosed after Shutdown or Close.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateStarted:
		return nanoact.Errorf(nanoact.CodeState, s.op, "already started")
	case stateClosed:
		return nanoact.Errorf(nanoact.CodeClosed, s.op, "server closed")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return &nanoact.Error{Code: nanoact.CodeAddrInvalid, Op: s.op, Err: err}
		}
		return nngerr.Wrap(err, s.op)
	}
	host, _, _ := net.SplitHostPort(s.addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s.url = s.scheme + "://" + net.JoinHostPort(host, port)
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	errLog, _ := zap.NewStdLogAt(s.log.Named("net/http"), zap.DebugLevel) // fails only for invalid levels
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout, ErrorLog: errLog}
	s.state = stateStarted
	hs := s.hs
	s.wg.Go(func() { _ = hs.Serve(ln) })
	s.log.Info("httpd: listening", zap.String("url", s.url))
	return nil
}

// URL returns the server's URL, "scheme://host:port", with the port bound
// once Started on port 0.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// String describes the server as nanonext prints it:
// "< nanoServer | url: http://127.0.0.1:8080 | state: started >", the
// state being "new", "started" or "closed".
func (s *Server) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	state := [...]string{stateNew: "new", stateStarted: "started", stateClosed: "closed"}[s.state]
	return "< nanoServer | url: " + s.url + " | state: " + state + " >"
}

// ServeHTTP routes a request (so the Server is an http.Handler): to the
// handler of its exact path, else of the longest prefix that matches;
// among those, the handler of its method, else of "*", else GET's for
// HEAD. No path: 404; no method: 405 with an Allow header. A panic in a
// handler is answered 500 (if nothing was sent yet) and logged at Error.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.gate.RLock()
	if s.shut {
		s.gate.RUnlock()
		w.Header().Set("Connection", "close")
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.inflight.Add(1)
	s.gate.RUnlock()
	defer s.inflight.Done()
	hs := s.tbl.Load().lookup(r.URL.Path)
	if hs == nil {
		http.NotFound(w, r)
		return
	}
	h := pick(hs, r.Method)
	if h == nil {
		w.Header().Set("Allow", allow(hs))
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if !guard(s.log, "httpd: handler", r, func() { h.ServeHTTP(w, r) }) {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

// holders returns the handlers that keep connections open.
func (s *Server) holders() []connHolder {
	var out []connHolder
	for _, h := range s.tbl.Load().all {
		if c, ok := h.(connHolder); ok {
			out = append(out, c)
		}
	}
	return out
}

// close marks the server closed and returns its http.Server (nil if never
// started), or ErrClosed.
func (s *Server) close(op string) (*http.Server, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return nil, nanoact.Errorf(nanoact.CodeClosed, op, "server closed")
	}
	s.state = stateClosed
	s.gate.Lock()
	s.shut = true
	s.gate.Unlock()
	return s.hs, nil
}

// Shutdown stops the server gracefully: it stops listening, ends every
// stream (terminal chunk) and websocket (close frame 1001, going away),
// lets requests in progress finish, and returns once every goroutine the
// server and its handlers started has exited. If ctx ends first, the
// remaining connections are closed at once and Shutdown returns ErrTimedOut
// or ErrCanceled (wrapping ctx's error) after they have. A websocket
// connection first gets the messages already queued for it, then the close
// frame, and its client's reply is waited for up to about a second; ctx
// bounds all of it. A second call returns ErrClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.stop(ctx, "httpd: shutdown "+s.URL())
}

// Close stops the server at once: it closes the listener and every
// connection, requests in progress included (their clients see the
// connection drop), and returns once every goroutine the server and its
// handlers started has exited. A second call returns ErrClosed.
func (s *Server) Close() error {
	return s.stop(nil, "httpd: close "+s.URL())
}

// stop is Shutdown (ctx not nil) and Close (nil ctx).
func (s *Server) stop(ctx context.Context, op string) error {
	hs, err := s.close(op)
	if err != nil {
		return err
	}
	holders := s.holders()
	for _, h := range holders {
		h.endConns(ctx == nil)
	}
	switch {
	case hs == nil:
	case ctx == nil:
		_ = hs.Close()
	default:
		if e := hs.Shutdown(ctx); e != nil {
			err = nanoact.FromContext(ctx, op)
			_ = hs.Close()
			for _, h := range holders {
				h.endConns(true)
			}
		}
	}
	// Websocket connections are not net/http's to wait for: wait here,
	// and cut them if ctx ends first (a writer blocked on a client that
	// does not read would otherwise hold Shutdown up to its write timeout).
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for _, h := range holders {
			h.waitConns()
		}
	}()
	if ctx != nil {
		select {
		case <-waited:
		case <-ctx.Done():
			if err == nil {
				err = nanoact.FromContext(ctx, op)
			}
			for _, h := range holders {
				h.endConns(true)
			}
		}
	}
	<-waited
	s.inflight.Wait()
	s.wg.Wait()
	s.log.Info("httpd: closed", zap.String("url", s.URL()))
	return err
}
