package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

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
	ws, o, address := l.upgrade(c, conn, br, req, start)
	if ws == nil {
		l.slots.give()
		return
	}
	// Out of pending before the hand-over, as in listener.serveConn: from
	// here only closeq may close it, never a Close after Accept took it.
	h.mu.Lock()
	delete(h.pending, c)
	h.mu.Unlock()
	if l.streams != nil {
		l.slots.give() // streams are not counted (no OptionMaxConns)
		st := &WSStream{Conn: ws, Header: req.Header.Clone()}
		select { // as handoff
		case l.streams <- st:
		case <-l.closeq:
			_ = st.Close()
		}
		return
	}
	p := newWSPipe(ws, o, address, l.proto)
	p.onClose = l.slots.give
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
