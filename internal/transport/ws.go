package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/msgpool"
)

// The ws and wss transports speak NNG's websocket mapping of SP (the same
// as mangos'): the dialer opens a websocket with an HTTP/1.1 Upgrade whose
// Sec-WebSocket-Protocol names the protocol it wants its peer to speak,
// "<peer>.sp.nanomsg.org"; the listener accepts only its own protocol
// name, answers 400 otherwise, and echoes the name; the dialer checks the
// echo. There is no 8-byte SP header: each SP message (header and body)
// is one binary websocket message. Several ws listeners may share one
// host:port with different paths, as in NNG (see wsHost).
//
// Listeners do not use net/http's Server. A host runs our accept loop,
// reads the request with http.ReadRequest and lets gorilla's Upgrader
// answer it over the raw connection, so that nothing is ever logged, the
// whole upgrade runs under the handshake deadline, and Close waits for
// every goroutine that served a connection.

const (
	// wsBufSize is the read and write buffer of a websocket connection;
	// gorilla reuses the ones the upgrade was read with.
	wsBufSize = 4 << 10

	// wsScratch is the per-pipe buffer a message is first read into: one
	// that ends within it is copied into a pooled message of its exact
	// size. It is allocated on the pipe's first receive.
	wsScratch = 8 << 10

	// maxRequestHead bounds the upgrade request line and headers.
	maxRequestHead = 64 << 10

	// spSubprotocol follows the protocol name in Sec-WebSocket-Protocol.
	spSubprotocol = ".sp.nanomsg.org"
)

// ---- hosts: the process-wide registry of bound ws addresses ----

// wsHosts is the process-wide registry of ws and wss hosts by bound
// address, which lets listeners of different sockets share a port as NNG's
// http server list does. It is package state because the port it arbitrates
// is a process-wide resource; entries live exactly as long as a listener
// uses them.
var wsHosts = struct {
	mu sync.Mutex
	m  map[string]*wsHost
}{m: make(map[string]*wsHost)}

// wsHost is one bound TCP address serving ws or wss listeners by URL
// path. It owns an accept goroutine and one goroutine per connection until
// the connection is upgraded and handed to its listener (or refused). It
// closes when its last listener closes, and that Close waits for all of
// them.
type wsHost struct {
	key    string
	nl     net.Listener
	tls    *tls.Config // wss; nil on ws
	scheme string      // "ws" or "wss", for errors
	closeq chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	paths   map[string]*wsListener
	pending map[net.Conn]*wsListener // in handshake; nil before dispatch
	closed  bool
}

// wsKey is a host's registry key: the IP as given (empty for a wildcard)
// and the port bound.
func wsKey(ip net.IP, zone string, port int) string {
	return (&net.TCPAddr{IP: ip, Zone: zone, Port: port}).String()
}

// acquireWSHost registers l (with options o) on the host bound at l's
// address, binding a new one if there is none. It fails with CodeAddrInUse
// when another listener serves the same path there, when the host is a
// wss one with another *tls.Config (or a ws one, for wss, and the other
// way round), or when bind(2) says so.
func acquireWSHost(l *wsListener, o options) (*wsHost, error) {
	op := "transport: listen " + l.url
	wsHosts.mu.Lock()
	defer wsHosts.mu.Unlock()
	if l.tcpAddr.Port != 0 {
		if h := wsHosts.m[wsKey(l.tcpAddr.IP, l.tcpAddr.Zone, l.tcpAddr.Port)]; h != nil {
			if h.tls != o.tls {
				what := "a wss listener with another TLS config"
				if h.tls == nil {
					what = "ws listeners"
				} else if o.tls == nil {
					what = "wss listeners"
				}
				return nil, nanoact.Errorf(nanoact.CodeAddrInUse, op, "address served by %s", what)
			}
			if err := h.add(l); err != nil {
				return nil, err
			}
			return h, nil
		}
	}
	lc := net.ListenConfig{KeepAlive: -1}
	nl, err := lc.Listen(context.Background(), l.t.network(), l.tcpAddr.String())
	if err != nil {
		return nil, wrapErr(op, err)
	}
	scheme := "ws"
	if o.tls != nil {
		scheme = "wss"
	}
	h := &wsHost{
		key:     wsKey(l.tcpAddr.IP, l.tcpAddr.Zone, nl.Addr().(*net.TCPAddr).Port),
		nl:      nl,
		tls:     o.tls,
		scheme:  scheme,
		closeq:  make(chan struct{}),
		paths:   make(map[string]*wsListener),
		pending: make(map[net.Conn]*wsListener),
	}
	if err := h.add(l); err != nil {
		_ = nl.Close()
		return nil, err
	}
	wsHosts.m[h.key] = h
	h.wg.Go(func() { acceptLoop(nl, h.closeq, h.startConn) })
	return h, nil
}

// add registers l at its path and gives it its bound address; l.host is
// set under both locks so that a concurrent Close either sees it or makes
// add fail.
func (h *wsHost) add(l *wsListener) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.paths[l.path] != nil {
		return nanoact.Errorf(nanoact.CodeAddrInUse, "transport: listen "+l.url,
			"another listener serves path %q on this address", l.path)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return mangos.ErrClosed
	}
	l.host = h
	h.paths[l.path] = l
	host := l.u.hostname
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	l.port = h.nl.Addr().(*net.TCPAddr).Port
	l.address = l.t.user + "://" + host + ":" + strconv.Itoa(l.port) + l.u.path
	return nil
}

// remove unregisters l and closes its connections still in handshake; if
// l was the last listener it closes the host. It returns after the
// goroutines serving l's connections, and if the host closed all of its
// goroutines, have exited.
func (h *wsHost) remove(l *wsListener) {
	wsHosts.mu.Lock()
	h.mu.Lock()
	if h.paths[l.path] == l {
		delete(h.paths, l.path)
	}
	last := len(h.paths) == 0 && !h.closed
	var drop []net.Conn
	for c, owner := range h.pending {
		if owner == l || last {
			drop = append(drop, c)
		}
	}
	if last {
		h.closed = true
		close(h.closeq)
		delete(wsHosts.m, h.key)
	}
	h.mu.Unlock()
	wsHosts.mu.Unlock()
	if last {
		_ = h.nl.Close()
	}
	for _, c := range drop {
		_ = c.Close()
	}
	l.hs.Wait()
	if last {
		h.wg.Wait()
	}
}

// startConn starts the goroutine that upgrades c, or closes c if the host
// is closed or holds as many connections in their upgrade as its
// listeners' caps allow (see connCapLocked).
func (h *wsHost) startConn(c net.Conn) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = c.Close()
		return
	}
	if lim := h.connCapLocked(); lim > 0 && len(h.pending) >= lim {
		ls := slices.Collect(maps.Values(h.paths))
		h.mu.Unlock()
		_ = c.Close()
		remote := addrString(c.RemoteAddr())
		for _, l := range ls { // not under h.mu: hooks may take their own locks
			if e, ok := l.options().events.(LimitEvents); ok && !l.isClosed() {
				e.OnConnLimit(l.Address(), remote, l.slots.max())
			}
		}
		return
	}
	h.pending[c] = nil
	// Until the request names its listener, the longest handshake
	// time-out of the listeners here applies.
	var timeout time.Duration
	for _, l := range h.paths {
		timeout = max(timeout, l.options().hsTimeout)
	}
	if timeout == 0 { // no listener: cannot happen on an open host
		timeout = DefaultHandshakeTimeout
	}
	start := time.Now()
	h.wg.Go(func() { h.serveConn(c, start, timeout) })
	h.mu.Unlock()
}

// connCapLocked is the most connections the host lets into their upgrade
// at once: the sum of its listeners' OptionMaxConns, or 0 (no cap) if one
// of them has none.
func (h *wsHost) connCapLocked() int {
	sum := 0
	for _, l := range h.paths {
		n := l.slots.max()
		if n == 0 {
			return 0
		}
		sum += n
	}
	return sum
}

// serveConn runs a connection's TLS handshake (wss), reads its request
// and passes it to the listener of its path, which upgrades it. It closes
// c on every failure and reports it.
func (h *wsHost) serveConn(c net.Conn, start time.Time, timeout time.Duration) {
	op := "transport: accept " + h.scheme + "://" + h.nl.Addr().String()
	defer func() {
		h.mu.Lock()
		delete(h.pending, c)
		h.mu.Unlock()
	}()
	fail := func(err error) {
		_ = c.Close()
		h.reportAll(c, err)
	}
	if err := c.SetDeadline(start.Add(timeout)); err != nil {
		fail(wrapErr(op, err))
		return
	}
	conn := c // the connection HTTP runs on
	if h.tls != nil {
		tc, err := tlsHandshake(c, h.tls, true, start.Add(timeout), timeout, op)
		if err != nil {
			fail(err)
			return
		}
		conn = tc
	}
	lr := &io.LimitedReader{R: conn, N: maxRequestHead}
	br := bufio.NewReaderSize(lr, wsBufSize)
	req, err := http.ReadRequest(br)
	if err != nil {
		if codeOf(err) == nanoact.CodeTimedOut {
			fail(&nanoact.Error{Code: nanoact.CodeTimedOut, Op: op,
				Err: fmt.Errorf("no websocket upgrade request within %v: %w", timeout, err)})
			return
		}
		err = fmt.Errorf("read upgrade request: %w", err)
		switch {
		case lr.N <= 0:
			refuse(conn, http.StatusRequestHeaderFieldsTooLarge, "request too large")
			err = &nanoact.Error{Code: nanoact.CodeProtocol, Op: op, Err: err}
		case codeOf(err) == nanoact.CodeInternal: // not the connection's failure
			refuse(conn, http.StatusBadRequest, "malformed request")
			err = &nanoact.Error{Code: nanoact.CodeProtocol, Op: op, Err: err}
		}
		fail(wrapErr(op, err))
		return
	}
	path := requestPath(req)

	h.mu.Lock()
	l := h.paths[path]
	if l == nil || h.closed {
		h.mu.Unlock()
		refuse(conn, http.StatusNotFound, "no SP listener at this path")
		fail(nanoact.Errorf(nanoact.CodeProtocol, op, "no listener at path %q", path))
		return
	}
	if !l.slots.take() {
		h.mu.Unlock()
		refuse(conn, http.StatusServiceUnavailable, "too many connections")
		_ = c.Close()
		l.slots.refuse(l.options(), l.Address(), c)
		return
	}
	h.pending[c] = l
	l.hs.Add(1)
	h.mu.Unlock()
	defer l.hs.Done()
	p := l.upgrade(c, conn, br, req, start)
	if p == nil {
		l.slots.give()
		return
	}
	p.onClose = l.slots.give
	// Out of pending before the hand-over, as in listener.serveConn: from
	// here only closeq may close it, never a Close after Accept took it.
	h.mu.Lock()
	delete(h.pending, c)
	h.mu.Unlock()
	handoff(l.ready, l.closeq, p)
}

// reportAll reports a connection that failed before naming a listener to
// every listener on the host, unless the host is closing.
func (h *wsHost) reportAll(c net.Conn, err error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	ls := make([]*wsListener, 0, len(h.paths))
	for _, l := range h.paths {
		ls = append(ls, l)
	}
	h.mu.Unlock()
	remote := addrString(c.RemoteAddr())
	for _, l := range ls {
		if e := l.options().events; e != nil && !l.isClosed() {
			e.OnHandshakeFail(l.Address(), remote, err)
		}
	}
}

// requestPath is the request's path canonicalised as listener URLs are,
// "/" when empty.
func requestPath(req *http.Request) string {
	raw := req.RequestURI
	if !strings.HasPrefix(raw, "/") {
		raw = req.URL.EscapedPath() // absolute-form request target
	}
	p, ok := canonifyURI(raw)
	if !ok {
		return "\x00" // matches no listener
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		p = "/"
	}
	return p
}

// ---- the upgrade ----

// upgradeWriter is the http.ResponseWriter and http.Hijacker gorilla's
// Upgrader needs, over a raw connection: it keeps an error response until
// flush, and hands the connection over on Hijack.
type upgradeWriter struct {
	c        net.Conn
	br       *bufio.Reader
	h        http.Header
	status   int
	body     []byte
	hijacked bool
}

func (w *upgradeWriter) Header() http.Header {
	if w.h == nil {
		w.h = make(http.Header)
	}
	return w.h
}

func (w *upgradeWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *upgradeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

func (w *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.c, bufio.NewReadWriter(w.br, bufio.NewWriterSize(w.c, wsBufSize)), nil
}

// flush writes the response kept, if any, and asks the client to close.
func (w *upgradeWriter) flush() {
	if w.hijacked || w.status == 0 {
		return
	}
	var b []byte
	b = fmt.Appendf(b, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	for _, k := range slices.Sorted(maps.Keys(w.h)) {
		if k == "Content-Length" || k == "Connection" {
			continue
		}
		for _, v := range w.h[k] {
			b = fmt.Appendf(b, "%s: %s\r\n", k, strings.Map(noCtl, v))
		}
	}
	b = fmt.Appendf(b, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(w.body))
	b = append(b, w.body...)
	_, _ = w.c.Write(b)
}

func noCtl(r rune) rune {
	if r < ' ' {
		return ' '
	}
	return r
}

// refuse answers the request on c with an HTTP error (under the deadline
// already set on c).
func refuse(c net.Conn, status int, text string) {
	w := &upgradeWriter{c: c}
	http.Error(w, text, status)
	w.flush()
}

// ---- listeners ----

// wsListener is mangos.TranListener for one ws or wss URL. It owns no
// goroutine itself: its host's goroutines upgrade its connections and hand
// them over (see wsHost). Close returns after every goroutine serving one
// of its connections has finished with it.
type wsListener struct {
	t       *tran
	u       *nngURL
	url     string // user URL as given
	path    string // canonical path, "/" when empty
	tcpAddr *net.TCPAddr
	proto   mangos.ProtocolInfo
	subp    string // the Sec-WebSocket-Protocol accepted

	closeq chan struct{}        // closed by Close
	ready  chan mangos.TranPipe // upgraded pipes, handed to Accept
	hs     sync.WaitGroup       // connections dispatched to this listener

	mu      sync.Mutex
	opt     options
	host    *wsHost // set by Listen
	binding bool    // Listen in progress or done
	address string  // URL with the bound port, set by Listen
	port    int
	closed  bool
	slots   connSlots // OptionMaxConns, counted from the request on
}

func newWSListener(t *tran, u *nngURL, url string, info mangos.ProtocolInfo) (*wsListener, error) {
	if err := checkWS(u, url); err != nil {
		return nil, err
	}
	a, err := net.ResolveTCPAddr(t.network(), net.JoinHostPort(u.hostname, u.port))
	if err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeAddrInvalid, Op: "transport: listen " + url, Err: err}
	}
	path := u.path
	if path == "" {
		path = "/"
	}
	return &wsListener{
		t:       t,
		u:       u,
		url:     url,
		path:    path,
		tcpAddr: a,
		proto:   info,
		subp:    info.SelfName + spSubprotocol,
		closeq:  make(chan struct{}),
		ready:   make(chan mangos.TranPipe),
		opt:     defaultOptions(),
		address: url,
	}, nil
}

func (l *wsListener) options() options {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.opt
}

func (l *wsListener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Listen binds the address, or joins the ws host already bound there
// (ws://127.0.0.1:5555/a and ws://127.0.0.1:5555/b share a port, as in
// NNG; so do wss listeners given the same *tls.Config), and starts
// accepting. It does not block beyond bind(2) and listen(2). Errors:
// CodeAddrInUse (the port is taken by something else, another listener
// serves the same path, or a wss listener with another TLS config holds
// the port), CodeInvalid (wss without mangos.OptionTLSConfig or without a
// certificate), mangos.ErrClosed after Close, CodeState on a second
// Listen.
func (l *wsListener) Listen() error {
	op := "transport: listen " + l.url
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return mangos.ErrClosed
	}
	if l.binding {
		l.mu.Unlock()
		return nanoact.Errorf(nanoact.CodeState, op, "already listening")
	}
	o := l.opt
	if err := needTLS(l.t, o, true, op); err != nil {
		l.mu.Unlock()
		return err
	}
	l.binding = true
	l.mu.Unlock()

	if _, err := acquireWSHost(l, o); err != nil {
		l.mu.Lock()
		l.binding = false
		l.mu.Unlock()
		return err
	}
	return nil
}

// Accept returns the next upgraded connection, blocking until there is
// one. It returns mangos.ErrClosed once the listener is closed or if it is
// not listening.
func (l *wsListener) Accept() (mangos.TranPipe, error) {
	l.mu.Lock()
	listening := l.host != nil
	l.mu.Unlock()
	if !listening {
		return nil, mangos.ErrClosed
	}
	return takeReady(l.ready, l.closeq)
}

// Close stops serving the listener's path: later requests for it get 404,
// connections still in their upgrade or not yet accepted are closed, and
// Close returns after the goroutines serving them exited. The last
// listener on an address also closes the socket and waits for the accept
// goroutine. Pipes already returned by Accept are not affected. A second
// Close returns an error with CodeClosed.
func (l *wsListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nanoact.Errorf(nanoact.CodeClosed, "transport: close "+l.url, "")
	}
	l.closed = true
	close(l.closeq)
	h := l.host
	l.mu.Unlock()
	if h != nil {
		h.remove(l)
	}
	return nil
}

// Address returns the listener's URL with its user scheme; after Listen
// it carries the bound port (ws://127.0.0.1:0/p becomes
// ws://127.0.0.1:43521/p). It does not block.
func (l *wsListener) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.address
}

// SetOption sets mangos.OptionMaxRecvSize, OptionHandshakeTimeout,
// OptionEvents, OptionSplitWord, OptionIdleTimeout, OptionMaxConns (the
// cap is checked when a request names this listener's path, answering
// 503 over it; before that, the port refuses connections at accept while
// as many as all its listeners' caps together are in their upgrade),
// mangos.OptionNoDelay,
// mangos.OptionKeepAlive, mangos.OptionKeepAliveTime and, on wss,
// mangos.OptionTLSConfig (a *tls.Config with a certificate, read by
// Listen: the config of a bound port does not change). Other changes
// apply to connections accepted later. It does not block.
func (l *wsListener) SetOption(name string, v any) error {
	if name == OptionMaxConns {
		return l.slots.set(v)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok, err := l.opt.set(l.t, name, v); ok {
		return err
	}
	return mangos.ErrBadOption
}

// GetOption reads the options SetOption accepts, plus OptionTCPBoundPort
// and mangos.OptionLocalAddr (the bound net.Addr, CodeState before
// Listen). It does not block.
func (l *wsListener) GetOption(name string) (any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch name {
	case OptionMaxConns:
		return l.slots.max(), nil
	case OptionTCPBoundPort:
		return l.port, nil
	case mangos.OptionLocalAddr:
		if l.host == nil {
			return nil, nanoact.Errorf(nanoact.CodeState, "transport: get "+name, "not listening")
		}
		return l.host.nl.Addr(), nil
	}
	if v, ok := l.opt.get(l.t, name); ok {
		return v, nil
	}
	return nil, mangos.ErrBadOption
}

// upgrade checks the request's subprotocol and answers it (101, or an
// HTTP error) within the listener's handshake time-out counted from start.
// It returns the new pipe, or nil after closing raw and reporting the
// failure. raw is the TCP connection, conn what HTTP runs on (a *tls.Conn
// on wss).
func (l *wsListener) upgrade(raw, conn net.Conn, br *bufio.Reader, req *http.Request, start time.Time) *wsPipe {
	o := l.options()
	l.mu.Lock()
	address := l.address
	l.mu.Unlock()
	op := "transport: accept " + address
	remote := addrString(raw.RemoteAddr())
	fail := func(err error) {
		_ = raw.Close()
		if o.events != nil && !l.isClosed() {
			o.events.OnHandshakeFail(address, remote, err)
		}
	}
	deadline := start.Add(o.hsTimeout)
	left := time.Until(deadline)
	if left <= 0 {
		fail(nanoact.Errorf(nanoact.CodeTimedOut, op, "no websocket upgrade within %v", o.hsTimeout))
		return nil
	}
	if err := raw.SetDeadline(deadline); err != nil {
		fail(wrapErr(op, err))
		return nil
	}
	if err := configure(raw, o); err != nil {
		fail(wrapErr(op, err))
		return nil
	}
	if !slices.Contains(websocket.Subprotocols(req), l.subp) {
		refuse(conn, http.StatusBadRequest, "SP protocol mismatch: this listener speaks "+l.subp)
		fail(nanoact.Errorf(nanoact.CodeProtocol, op, "peer asked for subprotocol %q, want %q (%s)",
			req.Header.Get("Sec-WebSocket-Protocol"), l.subp, l.proto.PeerName))
		return nil
	}
	w := &upgradeWriter{c: conn, br: br}
	up := websocket.Upgrader{
		HandshakeTimeout: left,
		Subprotocols:     []string{l.subp},
		CheckOrigin:      func(*http.Request) bool { return true }, // NNG checks no origin
	}
	ws, err := up.Upgrade(w, req, nil)
	if err != nil {
		w.flush()
		if codeOf(err) != nanoact.CodeTimedOut {
			err = &nanoact.Error{Code: nanoact.CodeProtocol, Op: op, Err: err}
		}
		fail(wrapErr(op, err))
		return nil
	}
	return newWSPipe(ws, o, address, l.proto)
}

// ---- dialing ----

// dialWS is Dial for ws and wss: gorilla's dialer with the handshake
// time-out over the TCP connect, TLS handshake and HTTP upgrade. Ending
// the dialer's context closes the connection, which interrupts any step.
func (d *dialer) dialWS(o options, op string) (mangos.TranPipe, error) {
	want := d.proto.PeerName + spSubprotocol
	var (
		mu   sync.Mutex
		raw  net.Conn
		stop func() bool
	)
	wd := websocket.Dialer{
		NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			nd := net.Dialer{KeepAlive: -1}
			c, err := nd.DialContext(ctx, d.network, d.addr)
			if err != nil {
				return nil, err
			}
			if err := configure(c, o); err != nil {
				_ = c.Close()
				return nil, err
			}
			mu.Lock()
			raw, stop = c, context.AfterFunc(d.ctx, func() { _ = c.Close() })
			mu.Unlock()
			return c, nil
		},
		HandshakeTimeout: o.hsTimeout,
		Subprotocols:     []string{want},
	}
	if o.tls != nil {
		wd.TLSClientConfig = clientTLS(o.tls, d.host)
	}
	ws, resp, err := wd.DialContext(d.ctx, d.wsURL, nil)
	mu.Lock()
	c, s := raw, stop
	mu.Unlock()
	if s != nil && !s() {
		// The dialer closed: the connection is (being) closed.
		if ws != nil {
			_ = ws.Close()
		}
		return nil, mangos.ErrClosed
	}
	if err == nil && ws.Subprotocol() != want {
		_ = ws.Close()
		err = nanoact.Errorf(nanoact.CodeProtocol, op, "server chose subprotocol %q, want %q", ws.Subprotocol(), want)
	}
	if err != nil {
		if d.ctx.Err() != nil {
			return nil, mangos.ErrClosed
		}
		err = wsDialErr(op, err, resp, o.hsTimeout)
		if c != nil && o.events != nil {
			o.events.OnHandshakeFail(d.url, addrString(c.RemoteAddr()), err)
		}
		return nil, err
	}
	return newWSPipe(ws, o, d.url, d.proto), nil
}

// wsDialErr gives a failed websocket dial NNG's code: an HTTP refusal as
// NNG's ws dialer maps it (401 and 403 CodePermission, 404 and 405
// CodeConnRefused, others CodeProtocol), TLS failures as tlsCode, and the
// handshake time-out CodeTimedOut.
func wsDialErr(op string, err error, resp *http.Response, timeout time.Duration) error {
	var ne *nanoact.Error
	if errors.As(err, &ne) {
		return err
	}
	if errors.Is(err, websocket.ErrBadHandshake) && resp != nil {
		c := nanoact.CodeProtocol
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			c = nanoact.CodePermission
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			c = nanoact.CodeConnRefused
		}
		return nanoact.Errorf(c, op, "websocket upgrade refused: %s", resp.Status)
	}
	if c, ok := tlsCode(err); ok {
		return &nanoact.Error{Code: c, Op: op, Err: err}
	}
	if codeOf(err) == nanoact.CodeTimedOut {
		return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: op,
			Err: fmt.Errorf("no websocket connection within %v: %w", timeout, err)}
	}
	return wrapErr(op, DialCause(err))
}

// ---- pipes ----

// wsPipe is an SP connection over a websocket: mangos.TranPipe.
//
// Send and Recv may run concurrently with each other and with Close;
// concurrent Sends (or Recvs) are serialised by a mutex. Memory: gorilla's
// 4 KiB read and write buffers, an 8 KiB receive scratch buffer once the
// pipe receives, and the messages. No goroutine of its own; with
// keep-alive on, a timer that sends a ping each period (see keepAlive).
type wsPipe struct {
	ws     *websocket.Conn
	opt    options
	url    string
	closed atomic.Bool
	gate   gate // OptionRecvGate, counted by recvBody

	sendMu sync.Mutex

	recvMu  sync.Mutex
	scratch []byte
	split   bool // received messages start with a word: see splitsWord

	onClose func() // set by a listener: gives back its connection slot

	// keep-alive (opt.keepAlive): ka pings every opt.kaPeriod; seen is
	// when the peer last sent anything (UnixNano); dead is set when it
	// answered nothing for three periods. kaMu orders the timer's
	// re-arming with Close, and kaRun counts callbacks armed or running.
	kaMu  sync.Mutex
	ka    *time.Timer
	kaRun sync.WaitGroup
	seen  atomic.Int64
	dead  atomic.Bool
}

func newWSPipe(ws *websocket.Conn, o options, url string, info mangos.ProtocolInfo) *wsPipe {
	ws.SetReadLimit(int64(o.maxRecv)) // 0: none
	p := &wsPipe{ws: ws, opt: o, url: url, split: splitsWord(o, info.Self)}
	if o.keepAlive {
		p.seen.Store(time.Now().UnixNano())
		ws.SetPongHandler(func(string) error {
			p.seen.Store(time.Now().UnixNano())
			return nil
		})
		ws.SetPingHandler(func(data string) error {
			p.seen.Store(time.Now().UnixNano())
			// As gorilla's default handler: answer, and leave write
			// failures to the next Send.
			_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			return nil
		})
		p.kaMu.Lock()
		p.kaRun.Add(1)
		p.ka = time.AfterFunc(o.kaPeriod, p.keepAlive)
		p.kaMu.Unlock()
	}
	return p
}

// keepAlive runs on the keep-alive timer: it closes the connection if the
// peer sent nothing (data, ping or pong) for three periods, and otherwise
// pings it and re-arms. Websocket pings are part of RFC 6455, which every
// SP websocket peer (NNG, mangos) answers; SP itself has no keep-alive.
func (p *wsPipe) keepAlive() {
	defer p.kaRun.Done()
	p.kaMu.Lock()
	defer p.kaMu.Unlock()
	if p.closed.Load() {
		return
	}
	period := p.opt.kaPeriod
	if time.Since(time.Unix(0, p.seen.Load())) > 3*period {
		p.dead.Store(true)
		if e, ok := p.opt.events.(LimitEvents); ok {
			e.OnIdle(p.url, addrString(p.ws.RemoteAddr()), 3*period)
		}
		_ = p.ws.UnderlyingConn().Close() // Recv fails; mangos' core then closes p
		return
	}
	_ = p.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(period))
	p.kaRun.Add(1)
	p.ka.Reset(period)
}

// msgReader reads a message's bytes with the pipe's idle deadline renewed
// before each read (OptionIdleTimeout), and marks the peer seen for
// keep-alive.
type msgReader struct {
	r io.Reader
	p *wsPipe
}

func (m msgReader) Read(b []byte) (int, error) {
	if err := m.p.renew(); err != nil {
		return 0, err
	}
	n, err := m.r.Read(b)
	if n > 0 && m.p.opt.keepAlive {
		m.p.seen.Store(time.Now().UnixNano())
	}
	return n, err
}

// renew sets the idle read deadline, if the pipe has one.
func (p *wsPipe) renew() error {
	if p.opt.idle > 0 {
		return p.ws.SetReadDeadline(time.Now().Add(p.opt.idle))
	}
	return nil
}

// Send writes m (header, then body) as one binary websocket message. It
// blocks until the kernel has taken it. On success it takes ownership of
// m and frees it; on error m stays the caller's and the pipe must be
// closed (mangos' core does). A listener's side sends a message without a
// header as a single frame without copying it; gorilla may split others
// into continuation frames, which every peer joins up again.
func (p *wsPipe) Send(m *mangos.Message) error {
	p.sendMu.Lock()
	var err error
	if len(m.Header) == 0 {
		err = p.ws.WriteMessage(websocket.BinaryMessage, m.Body)
	} else {
		var w io.WriteCloser
		if w, err = p.ws.NextWriter(websocket.BinaryMessage); err == nil {
			if _, err = w.Write(m.Header); err == nil {
				_, err = w.Write(m.Body)
			}
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
	}
	p.sendMu.Unlock()
	if err != nil {
		return p.ioErr("send", err)
	}
	m.Free()
	return nil
}

// Recv reads one websocket message and returns it as a message whose Body
// holds all of it. It blocks until one arrives or the connection fails.
// A message longer than the pipe's limit is refused by the websocket
// layer from its frame header (the peer gets close code 1009): Recv
// reports it to Events.OnOversize and returns an error with CodeMsgSize,
// after which the pipe must be closed. A text message is a protocol error
// (CodeProtocol), as in NNG.
func (p *wsPipe) Recv() (*mangos.Message, error) {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	if err := p.renew(); err != nil {
		return nil, p.recvErr(err)
	}
	typ, r, err := p.ws.NextReader()
	if err != nil {
		return nil, p.recvErr(err)
	}
	if p.opt.idle > 0 || p.opt.keepAlive {
		if p.opt.keepAlive {
			p.seen.Store(time.Now().UnixNano())
		}
		r = msgReader{r, p}
	}
	if typ != websocket.BinaryMessage {
		return nil, nanoact.Errorf(nanoact.CodeProtocol, "transport: recv "+p.url, "text message on an SP websocket")
	}
	if !p.split {
		return p.recvBody(r)
	}
	var head [4]byte
	switch k, err := io.ReadFull(r, head[:]); {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		m := msgpool.New(k) // too short for its protocol, which drops it
		m.Body = append(m.Body[:0], head[:k]...)
		return m, nil
	case err != nil:
		return nil, p.recvErr(err)
	}
	m, err := p.recvBody(r)
	if err != nil {
		return nil, err
	}
	m.Header = append(m.Header[:0], head[:]...)
	return m, nil
}

// recvBody reads the rest of the message r reads into a message's Body.
func (p *wsPipe) recvBody(r io.Reader) (*mangos.Message, error) {
	if p.scratch == nil {
		p.scratch = make([]byte, wsScratch)
	}
	n, err := io.ReadFull(r, p.scratch)
	// The websocket layer enforces maxRecv; the gate, which may open
	// while a read waits, is counted here as the bytes arrive.
	if g := p.gate.limit(p.opt.recvGate, 0); g > 0 && n > g {
		return nil, p.overGate(uint64(n), g)
	}
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		// The whole message is in scratch: its size is known.
		m := msgpool.New(n)
		m.Body = append(m.Body[:0], p.scratch[:n]...)
		return m, nil
	case err != nil:
		return nil, p.recvErr(err)
	}
	// Longer: mangos' largest pooled buffer (the class msgpool.New gives
	// any size above 8 KiB), doubled as needed. A full buffer is probed
	// through scratch before it grows, so that a message filling it
	// exactly costs no allocation.
	// It and its growth are charged to the receive budget.
	var g grower
	defer g.done()
	if !g.take(64 << 10) {
		return nil, p.budgetErr(64 << 10)
	}
	m := msgpool.New(64 << 10)
	b := append(m.Body[:0], p.scratch...)
	for {
		var k int
		if len(b) < cap(b) {
			k, err = r.Read(b[len(b):cap(b)])
			b = b[:len(b)+k]
		} else if k, err = r.Read(p.scratch); k > 0 {
			nb, ok := g.grow(b, math.MaxInt)
			if !ok {
				m.Free()
				return nil, p.budgetErr(uint64(2 * cap(b)))
			}
			b = append(nb, p.scratch[:k]...)
		}
		if g := p.gate.limit(p.opt.recvGate, 0); g > 0 && len(b) > g {
			m.Free()
			return nil, p.overGate(uint64(len(b)), g)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			m.Free()
			return nil, p.recvErr(err)
		}
	}
	m.Body = b
	return m, nil
}

// budgetErr reports a message refused by the receive budget and returns
// the error that closes the pipe.
func (p *wsPipe) budgetErr(size uint64) error {
	lim := budget.max()
	if e, ok := p.opt.events.(LimitEvents); ok {
		e.OnRecvBudget(p.url, addrString(p.ws.RemoteAddr()), size, lim)
	}
	return nanoact.Errorf(nanoact.CodeNoMemory, "transport: recv "+p.url,
		"a message of at least %d bytes would take the bytes held in messages still arriving past the %d-byte receive budget", size, lim)
}

func (p *wsPipe) recvErr(err error) error {
	if !p.closed.Load() {
		if p.dead.Load() {
			return nanoact.Errorf(nanoact.CodeTimedOut, "transport: recv "+p.url,
				"peer answered no keep-alive ping for %v", 3*p.opt.kaPeriod)
		}
		if p.opt.idle > 0 && codeOf(err) == nanoact.CodeTimedOut {
			if e, ok := p.opt.events.(LimitEvents); ok {
				e.OnIdle(p.url, addrString(p.ws.RemoteAddr()), p.opt.idle)
			}
			return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "transport: recv " + p.url,
				Err: fmt.Errorf("nothing received for %v: %w", p.opt.idle, err)}
		}
	}
	if errors.Is(err, websocket.ErrReadLimit) && !p.closed.Load() {
		limit := p.opt.maxRecv
		if e := p.opt.events; e != nil {
			e.OnOversize(p.url, addrString(p.ws.RemoteAddr()), uint64(limit)+1, limit)
		}
		return nanoact.Errorf(nanoact.CodeMsgSize, "transport: recv "+p.url,
			"message exceeds the %d-byte limit", limit)
	}
	return p.ioErr("recv", err)
}

func (p *wsPipe) ioErr(op string, err error) error {
	op = "transport: " + op + " " + p.url
	if p.closed.Load() {
		return nanoact.Errorf(nanoact.CodeClosed, op, "")
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &nanoact.Error{Code: nanoact.CodeConnShut, Op: op, Err: err}
	}
	if c, ok := tlsCode(err); ok {
		return &nanoact.Error{Code: c, Op: op, Err: err}
	}
	return wrapErr(op, err)
}

// overGate reports a message that passed the pipe's gate after size
// bytes (a lower bound of its length).
func (p *wsPipe) overGate(size uint64, limit int) error {
	if e := p.opt.events; e != nil {
		e.OnOversize(p.url, addrString(p.ws.RemoteAddr()), size, limit)
	}
	return nanoact.Errorf(nanoact.CodeMsgSize, "transport: recv "+p.url,
		"message exceeds the %d-byte limit", limit)
}

// Close closes the connection, which ends a blocked Send or Recv. It is
// idempotent and safe to call concurrently with Send and Recv; calls after
// the first return an error with CodeClosed. It does not block, beyond
// waiting for a keep-alive ping in flight (bounded by its period).
func (p *wsPipe) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nanoact.Errorf(nanoact.CodeClosed, "transport: close "+p.url, "")
	}
	_ = p.ws.Close()
	if p.ka != nil {
		p.kaMu.Lock()
		if p.ka.Stop() {
			p.kaRun.Done() // it will not run
		}
		p.kaMu.Unlock()
		p.kaRun.Wait()
	}
	if p.onClose != nil {
		p.onClose()
	}
	return nil
}

// GetOption reads a pipe property: mangos.OptionLocalAddr and
// OptionRemoteAddr (net.Addr), OptionMaxRecvSize (int), OptionRecvGate
// (RecvGate), OptionNoDelay and
// OptionKeepAlive (bool), on wss OptionTLSConnState
// (tls.ConnectionState). Anything else gives mangos.ErrBadOption. It does
// not block.
func (p *wsPipe) GetOption(name string) (any, error) {
	switch name {
	case OptionRecvGate:
		return RecvGate(&p.gate), nil
	case mangos.OptionLocalAddr:
		return p.ws.LocalAddr(), nil
	case mangos.OptionRemoteAddr:
		return p.ws.RemoteAddr(), nil
	case mangos.OptionMaxRecvSize:
		return p.opt.maxRecv, nil
	case mangos.OptionNoDelay:
		return p.opt.noDelay, nil
	case mangos.OptionKeepAlive:
		return p.opt.keepAlive, nil
	case mangos.OptionTLSConnState:
		if tc, ok := p.ws.UnderlyingConn().(*tls.Conn); ok {
			return tc.ConnectionState(), nil
		}
	}
	return nil, mangos.ErrBadOption
}
