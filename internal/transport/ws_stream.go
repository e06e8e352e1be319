package transport

import (
	"context"
	"crypto/tls"
	"net/http"

	"github.com/gorilla/websocket"
	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

// WSStream is a plain websocket a WSStreamListener accepted: the upgraded
// connection, and the headers of the request that opened it (NNG's
// ws:request-headers). Its owner reads and writes Conn and must Close it.
type WSStream struct {
	Conn   *websocket.Conn
	Header http.Header
}

// Close closes the websocket's connection at once, without a close
// message. It does not block.
func (s *WSStream) Close() error { return s.Conn.Close() }

// WSStreamListener accepts plain websockets, with no SP subprotocol, for
// byte streams (nanonext's stream(listen = "ws://...")). It is the ws
// listener in stream mode: it binds through the same host registry, so it
// may share a port with SP ws listeners and other stream listeners by
// path, and its connections are read, checked and upgraded by the same
// code, under the default handshake time-out. A request may name any
// subprotocol, or none; none is echoed. Connections are handed over
// unconfigured beyond the upgrade: no receive limit, keep-alive or idle
// time-out.
type WSStreamListener struct{ l *wsListener }

// ListenWSStream binds url (ws://, wss:// and their 4 and 6 variants;
// port 0 binds a free one) for websocket streams and returns at once;
// Accept waits for a connection. A wss URL needs cfg, a server config
// with a certificate; ws ignores it. It does not block beyond bind(2) and
// listen(2). Errors: CodeAddrInvalid and CodeNotSupported for URLs
// (as StreamAddr), CodeAddrInUse (the port is taken, or another listener
// serves the path there), CodeInvalid (wss without a usable cfg).
func ListenWSStream(url string, cfg *tls.Config) (*WSStreamListener, error) {
	u, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	t := &tran{user: u.scheme, kind: kindWS}
	switch u.scheme {
	case "ws", "ws4", "ws6":
	case "wss", "wss4", "wss6":
		t.tls = true
	default:
		return nil, urlErr(nanoact.CodeNotSupported, url, "%s:// is not a websocket URL", u.scheme)
	}
	l, err := newWSListener(t, u, url, mangos.ProtocolInfo{})
	if err != nil {
		return nil, err
	}
	l.subp = ""
	l.streams = make(chan *WSStream)
	if t.tls {
		l.opt.tls = cfg
	}
	if err := l.Listen(); err != nil {
		return nil, err
	}
	return &WSStreamListener{l}, nil
}

// Address returns the listener's URL with the port bound
// (ws://127.0.0.1:0/p becomes ws://127.0.0.1:43521/p). It does not block.
func (s *WSStreamListener) Address() string { return s.l.Address() }

// Accept returns the next upgraded websocket, blocking until there is one,
// ctx ends (CodeTimedOut or CodeCanceled, see nanoact.FromContext) or the
// listener is closed (CodeClosed).
func (s *WSStreamListener) Accept(ctx context.Context) (*WSStream, error) {
	op := "transport: accept " + s.l.Address()
	select {
	case st := <-s.l.streams:
		select {
		case <-s.l.closeq:
			_ = st.Close()
		default:
			return st, nil
		}
	case <-s.l.closeq:
	case <-ctx.Done():
		return nil, nanoact.FromContext(ctx, op)
	}
	return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
}

// Close stops serving the listener's path, as the ws listener's Close
// does: later requests for it get 404, connections in their upgrade or not
// yet accepted are closed, and Close returns once the goroutines serving
// them (and, for the last listener on the port, the accept goroutine) have
// exited. Accepted streams are not affected. A second Close returns an
// error with CodeClosed.
func (s *WSStreamListener) Close() error { return s.l.Close() }

// DialWSStream opens a plain websocket to url (ws:// or wss://), with no
// SP subprotocol, for a byte stream (nanonext's stream(dial = "ws://...")):
// gorilla's dialer, under DefaultHandshakeTimeout for the connect, TLS
// handshake and upgrade. header is sent with the request; cfg is the TLS
// client config of a wss URL (nil: gorilla's default). It returns the
// websocket and a copy of the upgrade response's headers. It blocks until
// connected, refused, or ctx ends (CodeTimedOut or CodeCanceled, see
// nanoact.FromContext). Other errors are coded as the SP ws dialer's
// (wsDialErr): an HTTP refusal as NNG maps it (401 and 403
// CodePermission, 404 and 405 CodeConnRefused, others CodeProtocol), TLS
// failures by their cause, nobody listening CodeConnRefused.
func DialWSStream(ctx context.Context, url string, header http.Header, cfg *tls.Config) (*websocket.Conn, http.Header, error) {
	op := "transport: dial " + url
	d := websocket.Dialer{HandshakeTimeout: DefaultHandshakeTimeout, TLSClientConfig: cfg}
	ws, resp, err := d.DialContext(ctx, url, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, nanoact.FromContext(ctx, op)
		}
		return nil, nil, wsDialErr(op, err, resp, DefaultHandshakeTimeout)
	}
	return ws, resp.Header.Clone(), nil
}
