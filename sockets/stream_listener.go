package sockets

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/transport"
)

// StreamListener accepts byte-stream connections at a URL; nanonext's
// stream(listen = url) is ListenStream followed by one Accept. It must be
// Closed; closing it does not close the Streams it accepted.
//
// Websocket listeners are the transport's (internal/transport's ws
// listener in stream mode): a stream listener may share its port with SP
// ws listeners of sockets, and other stream listeners, by URL path, and a
// request for another path there is answered 404, as in NNG.
type StreamListener struct {
	url  string
	cfg  streamConfig
	ln   net.Listener                // tcp, ipc, abstract
	ws   *transport.WSStreamListener // ws, wss
	once sync.Once
}

// ListenStream binds url for byte streams and returns at once; Accept
// waits for a connection. A tcp or ws URL with port 0 binds a free port,
// which URL reports. Errors as DialStream, and ErrAddrInUse.
func ListenStream(url string, opts ...StreamOption) (*StreamListener, error) {
	op := "sockets: listen stream " + url
	cfg := streamConfigOf(opts)
	network, addr, err := transport.StreamAddr(url)
	if err != nil {
		return nil, nngerr.Wrap(err, op)
	}
	l := &StreamListener{url: url, cfg: cfg}
	switch network {
	case "wss":
		if cfg.tls == nil {
			return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: errors.New("a wss listener needs a server TLS config (TLS)")}
		}
		if err := cfg.tls.check(op, true); err != nil {
			return nil, err
		}
		return l.listenWS(op, cfg.tls.serverConfig())
	case "ws":
		return l.listenWS(op, nil)
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, nngerr.Wrap(err, op)
	}
	l.ln = ln
	if network != "unix" {
		l.url = boundURL(url, strings.SplitN(url, "://", 2)[0]+"://"+ln.Addr().String())
	}
	return l, nil
}

// listenWS binds a ws or wss listener (tc: wss's server config) on the
// transport's websocket hosts.
func (l *StreamListener) listenWS(op string, tc *tls.Config) (*StreamListener, error) {
	ws, err := transport.ListenWSStream(l.url, tc)
	if err != nil {
		return nil, nngerr.Wrap(err, op)
	}
	l.ws = ws
	l.url = ws.Address()
	return l, nil
}

// URL returns the listener's URL, with the port bound for port 0.
func (l *StreamListener) URL() string { return l.url }

// Accept waits for one connection and returns it as a Stream. It blocks
// until a peer connects, ctx ends (ErrTimedOut / ErrCanceled) or the
// listener is closed (ErrClosed).
func (l *StreamListener) Accept(ctx context.Context) (*Stream, error) {
	op := "sockets: accept stream " + l.url
	if l.ws != nil {
		st, err := l.ws.Accept(ctx)
		if err != nil {
			return nil, reOp(err, op)
		}
		s := newStream(l.url, l.cfg)
		s.header = st.Header
		s.startWS(st.Conn)
		return s, nil
	}
	dl, ok := l.ln.(interface{ SetDeadline(time.Time) error })
	if ok {
		if d, has := ctx.Deadline(); has {
			_ = dl.SetDeadline(d)
		}
		stop := context.AfterFunc(ctx, func() { _ = dl.SetDeadline(time.Now()) })
		defer stop()
	}
	c, err := l.ln.Accept()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nanoact.FromContext(ctx, op)
		}
		return nil, nngerr.Wrap(err, op)
	}
	s := newStream(l.url, l.cfg)
	s.conn = c
	return s, nil
}

// Close stops listening; a waiting Accept ends with ErrClosed. It returns
// once the listener's goroutines have exited. A second Close: ErrClosed.
func (l *StreamListener) Close() error {
	err := error(&nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: close stream listener"})
	l.once.Do(func() {
		err = nil
		if l.ws != nil {
			_ = l.ws.Close()
		} else {
			_ = l.ln.Close()
		}
	})
	return err
}
