package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

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
