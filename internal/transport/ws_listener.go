package transport

import (
	"bufio"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

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
	subp    string // the Sec-WebSocket-Protocol accepted; "" in stream mode

	closeq  chan struct{}        // closed by Close
	ready   chan mangos.TranPipe // upgraded pipes, handed to Accept
	streams chan *WSStream       // stream mode (WSStreamListener): upgraded websockets
	hs      sync.WaitGroup       // connections dispatched to this listener

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

// upgrade checks the request's subprotocol (none in stream mode) and
// answers it (101, or an HTTP error) within the listener's handshake
// time-out counted from start. It returns the upgraded websocket with the
// options and address it was accepted under, or nil after closing raw and
// reporting the failure. raw is the TCP connection, conn what HTTP runs on
// (a *tls.Conn on wss).
func (l *wsListener) upgrade(raw, conn net.Conn, br *bufio.Reader, req *http.Request, start time.Time) (*websocket.Conn, options, string) {
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
		return nil, o, address
	}
	if err := raw.SetDeadline(deadline); err != nil {
		fail(wrapErr(op, err))
		return nil, o, address
	}
	if err := configure(raw, o); err != nil {
		fail(wrapErr(op, err))
		return nil, o, address
	}
	if l.subp != "" && !slices.Contains(websocket.Subprotocols(req), l.subp) {
		refuse(conn, http.StatusBadRequest, "SP protocol mismatch: this listener speaks "+l.subp)
		fail(nanoact.Errorf(nanoact.CodeProtocol, op, "peer asked for subprotocol %q, want %q (%s)",
			req.Header.Get("Sec-WebSocket-Protocol"), l.subp, l.proto.PeerName))
		return nil, o, address
	}
	w := &upgradeWriter{c: conn, br: br}
	var subp []string // stream mode: none asked for, none echoed
	if l.subp != "" {
		subp = []string{l.subp}
	}
	up := websocket.Upgrader{
		HandshakeTimeout: left,
		Subprotocols:     subp,
		CheckOrigin:      func(*http.Request) bool { return true }, // NNG checks no origin
	}
	ws, err := up.Upgrade(w, req, nil)
	if err != nil {
		w.flush()
		if codeOf(err) != nanoact.CodeTimedOut {
			err = &nanoact.Error{Code: nanoact.CodeProtocol, Op: op, Err: err}
		}
		fail(wrapErr(op, err))
		return nil, o, address
	}
	return ws, o, address
}
