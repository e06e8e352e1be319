package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nanoact/nanoact"
	"go.nanomsg.org/mangos/v3"
)

// listener is mangos.TranListener for one URL.
//
// After Listen it owns one accept goroutine plus one goroutine per
// connection still in its handshake or waiting to be taken by Accept.
// Close stops all of them and returns only after they exited.
type listener struct {
	t       *tran
	u       *nngURL
	url     string // user URL as given
	tcpAddr *net.TCPAddr
	path    string // unix socket name: a path, "@name", or "" for autobind
	proto   mangos.ProtocolInfo

	closeq chan struct{}        // closed by Close
	ready  chan mangos.TranPipe // handshaken pipes, handed to Accept
	wg     sync.WaitGroup       // accept loop and handshake goroutines

	mu      sync.Mutex
	opt     options
	perms   int // OptionIPCPermissions, -1 if unset
	nl      net.Listener
	address string // URL with the bound port or name, set by Listen
	port    int
	pending map[net.Conn]struct{} // connections in handshake
	closed  bool
	slots   connSlots // OptionMaxConns
}

func newListener(t *tran, u *nngURL, url string, info mangos.ProtocolInfo) (*listener, error) {
	l := &listener{
		t:       t,
		u:       u,
		url:     url,
		address: url,
		proto:   info,
		opt:     defaultOptions(),
		perms:   -1,
		closeq:  make(chan struct{}),
		ready:   make(chan mangos.TranPipe),
		pending: make(map[net.Conn]struct{}),
	}
	switch t.kind {
	case kindTCP:
		if err := checkTCP(u, url); err != nil {
			return nil, err
		}
		if u.hostname == "" && u.port == "" {
			return nil, urlErr(nanoact.CodeAddrInvalid, url, "no host and no port")
		}
		port := u.port
		if port == "" {
			port = "0"
		}
		a, err := net.ResolveTCPAddr(t.network(), net.JoinHostPort(u.hostname, port))
		if err != nil {
			return nil, &nanoact.Error{Code: nanoact.CodeAddrInvalid, Op: "transport: listen " + url, Err: err}
		}
		l.tcpAddr = a
	case kindIPC:
		path, err := ipcPath(u, url)
		if err != nil {
			return nil, err
		}
		l.path = path
	case kindAbstract:
		name, err := abstractName(u, url)
		if err != nil {
			return nil, err
		}
		if name != "" {
			l.path = "@" + name
		}
	}
	return l, nil
}

// Listen binds the address and starts accepting. It does not block beyond
// bind(2) and listen(2). A tcp or abstract address already bound gives
// CodeAddrInUse; so does a live ipc socket, while a stale socket file (no
// process behind it) is removed first, as NNG does. A tls+tcp listener
// without mangos.OptionTLSConfig, or whose config has no certificate,
// gives CodeInvalid. A listener that was closed gives mangos.ErrClosed; a
// second Listen CodeState.
func (l *listener) Listen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return mangos.ErrClosed
	}
	if l.nl != nil {
		return nanoact.Errorf(nanoact.CodeState, "transport: listen "+l.url, "already listening")
	}
	op := "transport: listen " + l.url
	if err := needTLS(l.t, l.opt, true, op); err != nil {
		return err
	}
	var nl net.Listener
	var err error
	switch l.t.kind {
	case kindTCP:
		lc := net.ListenConfig{KeepAlive: -1}
		nl, err = lc.Listen(context.Background(), l.t.network(), l.tcpAddr.String())
		if err != nil {
			return wrapErr(op, err)
		}
		l.port = nl.Addr().(*net.TCPAddr).Port
		l.address = l.tcpURL(l.port)
	case kindIPC:
		nl, err = listenIPC(l.path)
		if err != nil {
			return wrapErr(op, err)
		}
		if l.perms >= 0 {
			if err := os.Chmod(l.path, os.FileMode(l.perms)); err != nil {
				_ = nl.Close()
				return wrapErr(op, err)
			}
		}
	case kindAbstract:
		nl, err = net.ListenUnix("unix", &net.UnixAddr{Name: l.path, Net: "unix"})
		if err != nil {
			return wrapErr(op, err)
		}
		if l.path == "" {
			// Autobind: the kernel chose a name; report it.
			name := strings.TrimPrefix(nl.Addr().String(), "@")
			l.address = l.t.user + "://" + encodeAbstract(name)
		}
	}
	l.nl = nl
	l.wg.Go(func() { acceptLoop(nl, l.closeq, l.startConn) })
	return nil
}

// tcpURL is the listener URL with the bound port, formatted as NNG's
// nni_url_asprintf_port: same scheme and host, "[]" around IPv6.
func (l *listener) tcpURL(port int) string {
	host := l.u.hostname
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	return l.t.user + "://" + host + ":" + strconv.Itoa(port) + l.u.path
}

// listenIPC binds path, removing a stale socket file once if needed.
func listenIPC(path string) (net.Listener, error) {
	a := &net.UnixAddr{Name: path, Net: "unix"}
	nl, err := net.ListenUnix("unix", a)
	if err != nil && (isErrno(err, syscall.EADDRINUSE) || isErrno(err, syscall.EEXIST)) {
		removeStale(path)
		nl, err = net.ListenUnix("unix", a)
	}
	if err != nil {
		return nil, err
	}
	return nl, nil
}

// removeStale unlinks path if it is a socket nobody listens on.
func removeStale(path string) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		return
	}
	c, err := net.DialTimeout("unix", path, 100*time.Millisecond)
	if err == nil {
		_ = c.Close()
		return
	}
	if isErrno(err, syscall.ECONNREFUSED) {
		_ = os.Remove(path)
	}
}

// acceptLoop accepts connections on nl until it is closed or closeq is,
// and hands each to start, which takes ownership of it. Accept errors
// other than closing (out of files, memory) back off from 5 ms up to 1 s,
// as NNG sleeps on ENOFILES. The tcp, ipc and abstract listeners and the
// ws hosts all run it.
func acceptLoop(nl net.Listener, closeq <-chan struct{}, start func(net.Conn)) {
	var backoff time.Duration
	for {
		c, err := nl.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-closeq:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		start(c)
	}
}

// startConn starts a handshake goroutine for c, or closes c if the
// listener is closed or holds its OptionMaxConns connections already.
func (l *listener) startConn(c net.Conn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = c.Close()
		return
	}
	if !l.slots.take() {
		o, address := l.opt, l.address
		l.mu.Unlock()
		_ = c.Close()
		l.slots.refuse(o, address, c)
		return
	}
	l.pending[c] = struct{}{}
	o := l.opt
	l.wg.Go(func() { l.serveConn(c, o) })
	l.mu.Unlock()
}

// serveConn handshakes c (TLS first on tls+tcp, the time-out covering
// both) and hands the pipe to Accept. It returns early, closing c, if the
// handshake fails or the listener closes.
func (l *listener) serveConn(c net.Conn, o options) {
	op := "transport: accept " + l.address
	deadline := time.Now().Add(o.hsTimeout)
	sc := c // what the SP handshake and the pipe run on
	err := configure(c, o)
	if err == nil && l.t.tls {
		var tc *tls.Conn
		if tc, err = tlsHandshake(c, o.tls, true, deadline, o.hsTimeout, op); err == nil {
			sc = tc
		}
	}
	if err == nil {
		err = handshake(sc, l.proto, deadline, o.hsTimeout, op)
	}
	l.mu.Lock()
	delete(l.pending, c)
	closed := l.closed
	l.mu.Unlock()
	if err != nil || closed {
		_ = c.Close()
		l.slots.give()
		if err != nil && !closed && o.events != nil {
			o.events.OnHandshakeFail(l.address, addrString(c.RemoteAddr()), wrapErr(op, err))
		}
		return
	}
	p := newPipe(sc, l.t.kind, o, l.address, l.proto)
	p.onClose = l.slots.give
	handoff(l.ready, l.closeq, p)
}

// handoff gives p to the listener's Accept, or closes it if the listener
// closes first.
func handoff(ready chan<- mangos.TranPipe, closeq <-chan struct{}, p mangos.TranPipe) {
	select {
	case ready <- p:
	case <-closeq:
		_ = p.Close()
	}
}

// takeReady waits for the next pipe from handoff, or for closeq.
func takeReady(ready <-chan mangos.TranPipe, closeq <-chan struct{}) (mangos.TranPipe, error) {
	select {
	case p := <-ready:
		select {
		case <-closeq:
			_ = p.Close()
			return nil, mangos.ErrClosed
		default:
			return p, nil
		}
	case <-closeq:
		return nil, mangos.ErrClosed
	}
}

// Accept returns the next connection that completed its handshake,
// blocking until there is one. Connections are handshaken concurrently, so
// a stalled peer delays nobody else. It returns mangos.ErrClosed (the
// value mangos' core stops on) once the listener is closed or if it is
// not listening.
func (l *listener) Accept() (mangos.TranPipe, error) {
	l.mu.Lock()
	listening := l.nl != nil
	l.mu.Unlock()
	if !listening {
		return nil, mangos.ErrClosed
	}
	return takeReady(l.ready, l.closeq)
}

// Close stops listening: it closes the socket (an ipc socket file is
// removed), closes every connection still in its handshake or not yet
// accepted, and returns after the accept and handshake goroutines exited.
// Pipes already returned by Accept are not affected. A second Close
// returns an error with CodeClosed.
func (l *listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nanoact.Errorf(nanoact.CodeClosed, "transport: close "+l.url, "")
	}
	l.closed = true
	close(l.closeq)
	if l.nl != nil {
		_ = l.nl.Close()
	}
	for c := range l.pending {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

// Address returns the listener's URL with its user scheme. After Listen
// it carries the bound port (tcp://127.0.0.1:0 becomes
// tcp://127.0.0.1:43521) or, for abstract:// with an empty name, the name
// the kernel chose.
func (l *listener) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.address
}

// SetOption sets mangos.OptionMaxRecvSize, OptionHandshakeTimeout,
// OptionEvents, OptionSplitWord, OptionIdleTimeout, OptionMaxConns, on
// tcp and tls+tcp mangos.OptionNoDelay, mangos.OptionKeepAlive and
// mangos.OptionKeepAliveTime, on tls+tcp mangos.OptionTLSConfig (a
// *tls.Config with a certificate, which the listener does not modify),
// and on ipc OptionIPCPermissions (before Listen only; after it CodeBusy,
// as NNG). Changes apply to connections accepted later.
func (l *listener) SetOption(name string, v any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if name == OptionMaxConns {
		return l.slots.set(v)
	}
	if name == OptionIPCPermissions && l.t.kind == kindIPC {
		n, ok := v.(int)
		if !ok || n < 0 || n > int(os.ModePerm) {
			return mangos.ErrBadValue
		}
		if l.nl != nil {
			return nanoact.Errorf(nanoact.CodeBusy, "transport: set "+name, "listener already started")
		}
		l.perms = n
		return nil
	}
	if ok, err := l.opt.set(l.t, name, v); ok {
		return err
	}
	return mangos.ErrBadOption
}

// GetOption reads the options SetOption accepts, plus OptionTCPBoundPort
// on tcp and tls+tcp and mangos.OptionLocalAddr (the bound net.Addr,
// CodeState before Listen).
func (l *listener) GetOption(name string) (any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case name == OptionMaxConns:
		return l.slots.max(), nil
	case name == OptionIPCPermissions && l.t.kind == kindIPC:
		return max(l.perms, 0), nil // 0: not set, as in NNG
	case name == OptionTCPBoundPort && l.t.kind == kindTCP:
		return l.port, nil
	case name == mangos.OptionLocalAddr:
		if l.nl == nil {
			return nil, nanoact.Errorf(nanoact.CodeState, "transport: get "+name, "not listening")
		}
		return l.nl.Addr(), nil
	}
	if v, ok := l.opt.get(l.t, name); ok {
		return v, nil
	}
	return nil, mangos.ErrBadOption
}
