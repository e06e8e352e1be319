package ncurl

import (
	"context"
	"errors"
	"net/url"
	"sync"

	"github.com/nanoact/nanoact"
)

// Session is one kept-alive HTTP connection over which Transact sends
// requests, one at a time (nanonext's ncurlSession). It is made by
// NewSession and must be Closed. Its methods are safe for concurrent use;
// concurrent Transacts wait for each other, in no particular order.
//
// A session never reconnects: once a transaction fails, or the server
// closes the connection, later Transacts fail with ErrClosed (as NNG
// reports for a closed connection) and a new session is needed. It owns no
// goroutine.
type Session struct {
	url *url.URL
	cfg config

	tx chan struct{} // a one-slot semaphore serialising transactions on c

	mu     sync.Mutex // guards what follows
	c      *conn
	closed bool
	lost   error // why the connection was dropped, if it was
}

// NewSession validates opts and url, connects to the server (with the TLS
// handshake for https) and returns the session (nanonext's ncurl_session).
// It blocks until connected, the Timeout option or ctx's deadline passes
// (ErrTimedOut), or ctx is cancelled (ErrCanceled); connection errors are
// as for Do. The options given here (method, headers, body, response
// headers, conversion, time-out) describe the request every Transact sends
// unless it gives its own; Follow(true) is invalid, since sessions do not
// follow redirects. The session must be Closed.
func NewSession(ctx context.Context, url string, opts ...Option) (*Session, error) {
	r, err := newRequest(url, opts)
	if err != nil {
		return nil, err
	}
	if r.cfg.follow {
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: opName(r.cfg.method, r.url),
			Err: errors.New("sessions do not follow redirects")}
	}
	if r.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.timeout)
		defer cancel()
	}
	c, err := dial(ctx, r.url, &r.cfg)
	if err != nil {
		return nil, mapErr(ctx, err, "ncurl: session "+r.url.Redacted())
	}
	return &Session{url: r.url, cfg: r.cfg, c: c, tx: make(chan struct{}, 1)}, nil
}

// Transact sends the session's request over its connection and returns
// the response (nanonext's transact). opts apply on top of the options
// given to NewSession, for this transaction only: Method, Header, Body,
// Timeout, ResponseHeaders and Convert may be given; TLS, Insecure and
// Follow(true) are invalid. Unlike Do, a 3xx status does not add Location
// to the headers.
//
// Transact waits for any other Transact on the session to finish, then
// blocks until the response has been read, the Timeout option or ctx's
// deadline passes (ErrTimedOut; the time-out counts the wait as well), ctx
// is cancelled (ErrCanceled) or the session is Closed (ErrClosed). Any failure drops the connection, so
// that later Transacts fail with ErrClosed. It starts no goroutine. A
// small transaction over loopback takes 50–100 µs and 42 allocations (4 KB,
// server included), somewhat less than net/http's client reusing a
// connection (BenchmarkTransact, BenchmarkHTTPClient).
func (s *Session) Transact(ctx context.Context, opts ...Option) (*Response, error) {
	cfg := s.cfg
	cfg.connOpts = false
	if len(opts) > 0 {
		cfg.headers = append([]header(nil), s.cfg.headers...) // Header may set in place
		cfg.apply(opts)
	}
	op := opName(cfg.method, s.url)
	switch {
	case cfg.err != nil:
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: cfg.err}
	case cfg.connOpts:
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: errors.New("tls options apply to NewSession only")}
	case cfg.follow:
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: errors.New("sessions do not follow redirects")}
	}
	req, err := cfg.newHTTPRequest(s.url)
	if err != nil {
		return nil, withOp(err, op)
	}
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}

	select {
	case s.tx <- struct{}{}:
		defer func() { <-s.tx }()
	case <-ctx.Done():
		return nil, nanoact.FromContext(ctx, op)
	}
	c, err := s.conn(op)
	if err != nil {
		return nil, err
	}
	hr, body, err := c.exchange(ctx, req)
	if err != nil {
		if s.isClosed() {
			return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
		}
		err = mapErr(ctx, err, op)
		s.drop(err)
		return nil, err
	}
	if hr.Close {
		s.drop(errors.New("server closed the connection"))
	}
	return newResponse(hr, body, &cfg, false), nil
}

// conn returns the live connection, or ErrClosed.
func (s *Session) conn(op string) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	case s.lost != nil:
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op, Err: errors.New("connection lost: " + s.lost.Error())}
	}
	return s.c, nil
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// drop closes the connection after a failure; why is reported by later
// Transacts.
func (s *Session) drop(why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.lost != nil {
		return
	}
	s.lost = why
	_ = s.c.nc.Close()
}

// Close closes the session's connection. It does not block: a Transact in
// flight is aborted and returns ErrClosed, as do later ones. A second
// Close returns ErrClosed (nanonext: "7 | Object closed").
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "ncurl: close session " + s.url.Redacted()}
	}
	s.closed = true
	if s.lost == nil {
		_ = s.c.nc.Close()
	}
	return nil
}
