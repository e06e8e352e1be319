package transport

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nanoact/nanoact"
	"go.nanomsg.org/mangos/v3"
)

// dialer is mangos.TranDialer for one URL, on every transport of this
// package. mangos' core calls Dial from its own goroutines (a first
// synchronous dial, then redials); the dialer starts none of its own.
type dialer struct {
	t       *tran
	url     string // user URL
	network string // "tcp", "tcp4", "tcp6", "unix" or "inproc"
	addr    string // host:port, a path, "@name", or an inproc name
	host    string // tls+tcp and wss: the name to verify when the config has none
	wsURL   string // ws, wss: the URL for the HTTP request
	local   net.Addr
	proto   mangos.ProtocolInfo

	// ctx is the dialer's lifetime, derived here and cancelled when the
	// OptionContext context ends.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	opt    options
	parent context.Context // OptionContext, nil if unset
	unlink func() bool     // detaches cancel from parent
}

func newDialer(t *tran, u *nngURL, url string, info mangos.ProtocolInfo) (*dialer, error) {
	d := &dialer{t: t, url: url, proto: info, opt: defaultOptions()}
	switch t.kind {
	case kindTCP:
		if err := checkTCP(u, url); err != nil {
			return nil, err
		}
		host := u.hostname
		if src, dst, ok := strings.Cut(host, ";"); ok {
			// NNG's source-address form: tcp://src;host:port.
			la, err := net.ResolveTCPAddr(t.network(), net.JoinHostPort(src, "0"))
			if err != nil {
				return nil, &nanoact.Error{Code: codeOf(err), Op: "transport: url " + url, Err: err}
			}
			d.local, host = la, dst
		}
		if host == "" || u.port == "" {
			return nil, urlErr(nanoact.CodeAddrInvalid, url, "dialing needs a host and a port")
		}
		d.network, d.addr, d.host = t.network(), net.JoinHostPort(host, u.port), host
	case kindWS:
		if err := checkWS(u, url); err != nil {
			return nil, err
		}
		if u.hostname == "" {
			return nil, urlErr(nanoact.CodeAddrInvalid, url, "dialing needs a host")
		}
		d.network, d.addr, d.host = t.network(), net.JoinHostPort(u.hostname, u.port), u.hostname
		scheme, requri := "ws://", u.requri
		if t.tls {
			scheme = "wss://"
		}
		if requri == "" || requri[0] != '/' {
			requri = "/" + requri
		}
		d.wsURL = scheme + d.addr + requri
	case kindIPC:
		path, err := ipcPath(u, url)
		if err != nil {
			return nil, err
		}
		d.network, d.addr = "unix", path
	case kindAbstract:
		name, err := abstractName(u, url)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, urlErr(nanoact.CodeAddrInvalid, url, "dialing needs a name")
		}
		d.network, d.addr = "unix", "@"+name
	case kindInproc:
		d.network, d.addr = "inproc", u.path
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// Dial connects, completes the handshake (TLS then SP on tls+tcp, the
// HTTP upgrade on ws and wss) within the handshake time-out, and returns
// the new pipe. It blocks until then, or until the OptionContext context
// ends, which closes the connection and returns mangos.ErrClosed (as does
// any Dial after that). Errors are *nanoact.Error values: CodeConnRefused
// (also for a missing ipc path, as in NNG, and for a ws listener that
// answers 404), CodeUnreachable, CodePermission, CodeAddrInvalid for a
// name that does not resolve, CodeInvalid for a tls+tcp or wss dialer
// without mangos.OptionTLSConfig; from the handshake, which are also
// reported to Events.OnHandshakeFail, CodeTimedOut, CodeProtocol,
// CodePeerAuth (the server's certificate does not verify) or CodeCrypto
// (any other TLS failure, such as the server refusing our certificate).
// inproc dials are described at dialInproc.
func (d *dialer) Dial() (mangos.TranPipe, error) {
	d.mu.Lock()
	o := d.opt
	d.mu.Unlock()
	if d.ctx.Err() != nil {
		return nil, mangos.ErrClosed
	}
	op := "transport: dial " + d.url
	if err := needTLS(d.t, o, false, op); err != nil {
		return nil, err
	}
	switch d.t.kind {
	case kindWS:
		return d.dialWS(o, op)
	case kindInproc:
		return d.dialInproc(o, op)
	}

	nd := net.Dialer{KeepAlive: -1, LocalAddr: d.local}
	c, err := nd.DialContext(d.ctx, d.network, d.addr)
	if err != nil {
		if d.ctx.Err() != nil {
			return nil, mangos.ErrClosed
		}
		if d.t.kind != kindTCP && codeOf(err) == nanoact.CodeNotFound {
			return nil, &nanoact.Error{Code: nanoact.CodeConnRefused, Op: op, Err: DialCause(err)}
		}
		return nil, wrapErr(op, DialCause(err))
	}
	if err := configure(c, o); err != nil {
		_ = c.Close()
		return nil, wrapErr(op, err)
	}

	// Closing the connection is what interrupts a handshake in progress.
	stop := context.AfterFunc(d.ctx, func() { _ = c.Close() })
	deadline := time.Now().Add(o.hsTimeout)
	sc := c // what the SP handshake and the pipe run on
	if d.t.tls {
		var tc *tls.Conn
		if tc, err = tlsHandshake(c, clientTLS(o.tls, d.host), false, deadline, o.hsTimeout, op); err == nil {
			sc = tc
		}
	}
	if err == nil {
		err = handshake(sc, d.proto, deadline, o.hsTimeout, op)
	}
	if !stop() {
		_ = c.Close()
		return nil, mangos.ErrClosed
	}
	if err != nil {
		_ = c.Close()
		if o.events != nil {
			o.events.OnHandshakeFail(d.url, addrString(c.RemoteAddr()), err)
		}
		return nil, err
	}
	return newPipe(sc, d.t.kind, o, d.url, d.proto), nil
}

// SetOption sets mangos.OptionMaxRecvSize, OptionHandshakeTimeout,
// OptionEvents, OptionSplitWord, OptionContext, except on inproc
// OptionIdleTimeout, on tcp, tls+tcp, ws and wss mangos.OptionNoDelay,
// mangos.OptionKeepAlive and mangos.OptionKeepAliveTime, and on tls+tcp and wss
// mangos.OptionTLSConfig (a *tls.Config, which the dialer does not
// modify; without a ServerName the URL's host is verified). A change
// applies to later dials. It does not block.
func (d *dialer) SetOption(name string, v any) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if name == OptionContext {
		ctx, ok := v.(context.Context)
		if !ok || ctx == nil {
			return mangos.ErrBadValue
		}
		if d.unlink != nil {
			d.unlink()
		}
		d.parent = ctx
		d.unlink = context.AfterFunc(ctx, d.cancel)
		if ctx.Err() != nil {
			d.cancel() // now, not when the AfterFunc goroutine runs
		}
		return nil
	}
	if ok, err := d.opt.set(d.t, name, v); ok {
		return err
	}
	return mangos.ErrBadOption
}

// GetOption reads the options SetOption accepts (OptionContext gives
// context.Background() when unset).
func (d *dialer) GetOption(name string) (any, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if name == OptionContext {
		if d.parent == nil {
			return context.Background(), nil
		}
		return d.parent, nil
	}
	if v, ok := d.opt.get(d.t, name); ok {
		return v, nil
	}
	return nil, mangos.ErrBadOption
}
