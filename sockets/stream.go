package sockets

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/proto"
	"github.com/nanoact/nanoact/internal/transport"
)

// Stream is a plain byte stream to a peer that does not speak NNG's
// scalability protocols: a TCP or Unix socket (tcp://, ipc://, unix://,
// abstract://) or a websocket (ws://), as nanonext's stream(). It has no
// message boundaries on tcp and ipc: a receive returns what one read
// delivers (at most the receive size, 64 KiB by default), so data may
// arrive split or coalesced. On websockets a receive returns one message,
// or the next piece of one longer than the receive size.
//
// Sends always use Raw mode; receives decode by Go type (RecvAs with
// Raw) or by nanonext mode (RecvMode; Character by default). A Stream
// blocks by default: a context without deadline waits as long as it takes.
// It is a Conn, so aio works on it. It is safe for concurrent use (sends
// are serialised, receives are serialised) and must be Closed.
type Stream struct {
	url      string
	conn     net.Conn        // tcp, ipc, abstract
	ws       *websocket.Conn // ws
	text     bool
	recvSize int
	header   http.Header // ws: the request's headers (dial: sent; listen: received)
	respHdr  http.Header // ws dial: the upgrade response's headers
	pending  []byte      // ws: the rest of a message longer than recvSize; under rmu

	wmu, rmu sync.Mutex
	msgs     chan wsMessage // ws reader output
	readErr  error          // ws reader's final error, read after msgs closes
	wg       sync.WaitGroup
	once     sync.Once
	closed   chan struct{}
	sendq    SendQueue // aio sends waiting their turn (sendq.go)
}

type wsMessage struct{ b []byte }

// StreamOption configures DialStream and ListenStream.
type StreamOption interface{ applyStream(*streamConfig) }

type streamConfig struct {
	text     bool
	recvSize int
	header   http.Header
	tls      *TLSConfig
}

type streamOptionFunc func(*streamConfig)

func (f streamOptionFunc) applyStream(c *streamConfig) { f(c) }

// TextFrames makes a websocket stream send and expect text frames
// (nanonext's textframes = TRUE). A string is then sent without the
// trailing NUL that Raw mode otherwise adds. No effect on tcp or ipc.
func TextFrames() StreamOption { return streamOptionFunc(func(c *streamConfig) { c.text = true }) }

// RecvSize sets the largest number of bytes one receive returns
// (nanonext's n, default 65536). On tcp and ipc it is the size of one
// read. On a websocket a message longer than n is returned in pieces of at
// most n bytes by successive receives, as NNG's websocket streams deliver
// it, so a receive never returns more than n bytes on any stream. n <= 0
// keeps the default.
func RecvSize(n int) StreamOption {
	return streamOptionFunc(func(c *streamConfig) {
		if n > 0 {
			c.recvSize = n
		}
	})
}

// RequestHeader adds a header to a websocket dial's HTTP request
// (NNG's ws:request-headers).
func RequestHeader(key, value string) StreamOption {
	return streamOptionFunc(func(c *streamConfig) {
		if c.header == nil {
			c.header = http.Header{}
		}
		c.header.Add(key, value)
	})
}

// StreamTLS sets the TLS configuration of a wss:// stream: a client
// config for DialStream (without one, the server is verified against the
// system's roots), a server config for ListenStream (required there).
func StreamTLS(cfg *TLSConfig) StreamOption {
	return streamOptionFunc(func(c *streamConfig) { c.tls = cfg })
}

func streamConfigOf(opts []StreamOption) streamConfig {
	c := streamConfig{recvSize: 64 << 10}
	for _, o := range opts {
		o.applyStream(&c)
	}
	return c
}

// DialStream connects a byte stream to url and returns once connected
// (or when ctx ends: ErrTimedOut / ErrCanceled). Errors: ErrInvalid and
// ErrAddrInvalid for bad URLs, ErrNotSupported for inproc:// and other
// schemes without byte streams, ErrConnRefused when nobody listens.
func DialStream(ctx context.Context, url string, opts ...StreamOption) (*Stream, error) {
	op := "sockets: dial stream " + url
	cfg := streamConfigOf(opts)
	network, addr, err := transport.StreamAddr(url)
	if err != nil {
		return nil, nngerr.Wrap(err, op)
	}
	s := newStream(url, cfg)
	if network == "ws" || network == "wss" {
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		if network == "wss" {
			host := strings.TrimPrefix(addr, "wss://")
			if i := strings.IndexAny(host, "/?#"); i >= 0 {
				host = host[:i]
			}
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			host = strings.Trim(host, "[]")
			if cfg.tls != nil {
				if err := cfg.tls.check(op, false); err != nil {
					return nil, err
				}
				d.TLSClientConfig = cfg.tls.clientConfig(host, nil)
			} else {
				// The system's roots, the name checked as NNG does.
				d.TLSClientConfig = transport.VerifyLikeNNG(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
			}
		}
		ws, resp, err := d.DialContext(ctx, addr, cfg.header)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			return nil, nngerr.Wrap(transport.DialCause(err), op)
		}
		s.header = cfg.header
		s.respHdr = resp.Header.Clone()
		s.startWS(ws)
		return s, nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, nngerr.Wrap(transport.DialCause(err), op)
	}
	s.conn = c
	return s, nil
}

func newStream(url string, cfg streamConfig) *Stream {
	return &Stream{url: url, text: cfg.text, recvSize: cfg.recvSize, closed: make(chan struct{})}
}

// startWS starts the websocket's reader goroutine: gorilla's connections
// cannot be read again after a read deadline passes, so receives wait on
// the reader's channel instead of on the connection.
func (s *Stream) startWS(ws *websocket.Conn) {
	s.ws = ws
	s.msgs = make(chan wsMessage, 16)
	s.wg.Go(func() {
		defer close(s.msgs)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				s.readErr = err
				return
			}
			select {
			case s.msgs <- wsMessage{b}:
			case <-s.closed:
				return
			}
		}
	})
}

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
			return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: errors.New("a wss listener needs a server TLS config (StreamTLS)")}
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
			var ne *nanoact.Error
			if errors.As(err, &ne) {
				return nil, &nanoact.Error{Code: ne.Code, Op: op, Err: ne.Err}
			}
			return nil, nngerr.Wrap(err, op)
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

// URL returns the URL the stream was made for.
func (s *Stream) URL() string { return s.url }

// Codec returns CBOR: streams send in Raw mode, but Decode[T] in Serial
// mode is available for peers that send serial payloads (the serial
// marker, then CBOR).
func (s *Stream) Codec() Codec { return codec.CBOR() }

// Header returns a websocket stream's request headers: those sent when
// dialling, those received when accepted (NNG's ws:request-headers). Nil
// for tcp and ipc.
func (s *Stream) Header() http.Header { return s.header }

// ResponseHeader returns the headers of the HTTP response that upgraded a
// dialled websocket stream (NNG's ws:response-headers), such as
// Sec-WebSocket-Accept and any the server added. Nil for accepted
// streams, tcp and ipc. The caller may modify the map; it is a copy made
// at dial time, and the call never blocks.
func (s *Stream) ResponseHeader() http.Header { return s.respHdr }

func (s *Stream) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// Send encodes v in Raw mode (the mode options are ignored, as nanonext's)
// and writes it: on a websocket as one binary message (text with
// TextFrames), on tcp and ipc as bytes. It blocks until written or ctx
// ends; NonBlock(ctx) allows 1 ms.
func (s *Stream) Send(ctx context.Context, v any, opts ...SendOption) error {
	if m, ok := v.(*Msg); ok {
		return s.write(ctx, m.Body)
	}
	b, err := s.raw(v)
	if err != nil {
		return err
	}
	return s.write(ctx, b)
}

// Encode returns, as a new message, the bytes Send would write for v (a
// *Msg's body is copied), without writing them: package aio captures a
// send's data this way when the send has to wait. It never blocks.
// Errors: ErrBadType when v has no raw form.
func (s *Stream) Encode(v any) (*Msg, error) {
	if m, ok := v.(*Msg); ok {
		return NewMsg(m.Body), nil
	}
	b, err := s.raw(v)
	if err != nil {
		return nil, err
	}
	return &Msg{Body: b}, nil
}

// raw encodes v in Raw mode, as a stream sends it.
func (s *Stream) raw(v any) ([]byte, error) {
	b, err := codec.AppendRaw(nil, v)
	if err != nil {
		return nil, nngerr.Wrap(err, "sockets: send")
	}
	if _, isString := v.(string); isString && s.text && len(b) > 0 {
		b = b[:len(b)-1] // text frames carry the string without its NUL
	}
	return b, nil
}

// SendMsg writes m's body, as Send does.
func (s *Stream) SendMsg(ctx context.Context, m *Msg) error { return s.write(ctx, m.Body) }

// deadline returns the I/O deadline for ctx: its own, 1 ms for NonBlock,
// or none.
func deadline(ctx context.Context) time.Time {
	if proto.IsNonBlock(ctx) {
		return time.Now().Add(time.Millisecond)
	}
	d, _ := ctx.Deadline()
	return d
}

func (s *Stream) write(ctx context.Context, b []byte) error {
	const op = "sockets: send"
	if s.isClosed() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var err error
	if s.ws != nil {
		_ = s.ws.SetWriteDeadline(deadline(ctx))
		stop := context.AfterFunc(ctx, func() { _ = s.ws.SetWriteDeadline(time.Now()) })
		kind := websocket.BinaryMessage
		if s.text {
			kind = websocket.TextMessage
		}
		err = s.ws.WriteMessage(kind, b)
		stop()
	} else {
		_ = s.conn.SetWriteDeadline(deadline(ctx))
		stop := context.AfterFunc(ctx, func() { _ = s.conn.SetWriteDeadline(time.Now()) })
		_, err = s.conn.Write(b)
		stop()
	}
	return s.ioErr(ctx, err, op)
}

// ioErr maps an I/O error: a passed deadline becomes the context's end (or
// ErrTryAgain for NonBlock).
func (s *Stream) ioErr(ctx context.Context, err error, op string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if proto.IsNonBlock(ctx) {
			return &nanoact.Error{Code: nanoact.CodeTryAgain, Op: op}
		}
		if ctx.Err() != nil {
			return nanoact.FromContext(ctx, op)
		}
		return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: op, Err: err}
	}
	if s.isClosed() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	return nngerr.Wrap(err, op)
}

// Recv receives what is there: one websocket message, or one read of at
// most the receive size on tcp and ipc. It blocks until data arrives, ctx
// ends, the peer closes (ErrConnShut) or the stream is closed (ErrClosed).
func (s *Stream) Recv(ctx context.Context) (*Msg, error) { return s.RecvMsg(ctx) }

// RecvMsg is Recv; it makes Stream a Conn. The message's Pipe is 1, as
// nanonext reports for streams.
func (s *Stream) RecvMsg(ctx context.Context) (*Msg, error) {
	const op = "sockets: recv"
	if s.isClosed() {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.ws != nil {
		if len(s.pending) > 0 {
			return s.wsPiece(s.pending), nil
		}
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return nil, s.wsEnd(op)
			}
			return s.wsPiece(m.b), nil
		default:
		}
		if proto.IsNonBlock(ctx) {
			return nil, &nanoact.Error{Code: nanoact.CodeTryAgain, Op: op}
		}
		select {
		case m, ok := <-s.msgs:
			if !ok {
				return nil, s.wsEnd(op)
			}
			return s.wsPiece(m.b), nil
		case <-s.closed:
			return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
		case <-ctx.Done():
			return nil, nanoact.FromContext(ctx, op)
		}
	}
	buf := make([]byte, s.recvSize)
	_ = s.conn.SetReadDeadline(deadline(ctx))
	stop := context.AfterFunc(ctx, func() { _ = s.conn.SetReadDeadline(time.Now()) })
	n, err := s.conn.Read(buf)
	stop()
	if err != nil {
		return nil, s.ioErr(ctx, err, op)
	}
	return &Msg{Body: buf[:n], Pipe: 1}, nil
}

// wsPiece returns at most recvSize bytes of b as a message and keeps the
// rest for the next receive. Call with rmu held.
func (s *Stream) wsPiece(b []byte) *Msg {
	s.pending = nil
	if len(b) > s.recvSize {
		b, s.pending = b[:s.recvSize:s.recvSize], b[s.recvSize:]
	}
	return &Msg{Body: b, Pipe: 1}
}

// wsEnd is the error once the websocket reader has stopped.
func (s *Stream) wsEnd(op string) error {
	if s.isClosed() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	var ce *websocket.CloseError
	if errors.As(s.readErr, &ce) {
		return &nanoact.Error{Code: nanoact.CodeConnShut, Op: op, Err: s.readErr}
	}
	return nngerr.Wrap(s.readErr, op)
}

// RecvMode receives and decodes by a nanonext mode; Character is the
// streams' default in nanonext.
func (s *Stream) RecvMode(ctx context.Context, mode Mode) (any, error) {
	m, err := s.RecvMsg(ctx)
	if err != nil {
		return nil, err
	}
	return DecodeMode(m, mode, nil)
}

// Close closes the stream; waiting sends and receives end with ErrClosed.
// It returns once the stream's goroutine (websockets) has exited. A second
// Close returns ErrClosed.
func (s *Stream) Close() error {
	err := error(&nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: close stream"})
	s.once.Do(func() {
		err = nil
		close(s.closed)
		if s.ws != nil {
			s.wmu.Lock()
			_ = s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			s.wmu.Unlock()
			_ = s.ws.Close()
		} else {
			_ = s.conn.Close()
		}
		s.wg.Wait()
	})
	return err
}

// String describes the stream as nanonext prints it.
func (s *Stream) String() string {
	state := "opened"
	if s.isClosed() {
		state = "closed"
	}
	return fmt.Sprintf("< nanoStream >\n - state: %s\n - url: %s\n", state, s.url)
}

// The websocket header options of streams (read-only), as NNG's and
// nanonext's opt(stream, ...) read them: header lines "Name: value\r\n".
var (
	// WSRequestHeaders (ws and wss streams; read-only): the HTTP request
	// headers of the upgrade, those sent by a dialled stream and those
	// received by an accepted one (Stream.Header as text).
	WSRequestHeaders = Opt[string]{"ws:request-headers"}
	// WSResponseHeaders (ws and wss streams; read-only): the HTTP response
	// headers of the upgrade a dialled stream received
	// (Stream.ResponseHeader as text); "" on an accepted stream.
	WSResponseHeaders = Opt[string]{"ws:response-headers"}
)

// headerText writes h as HTTP header lines, sorted by name.
func headerText(h http.Header) string {
	var b strings.Builder
	_ = h.Write(&b) // sorted by key; a strings.Builder does not fail
	return b.String()
}

// tcpConn returns the TCP connection under a tcp, ws or wss stream; nil
// for ipc.
func (s *Stream) tcpConn() *net.TCPConn {
	c := s.conn
	if s.ws != nil {
		c = s.ws.UnderlyingConn()
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tc, _ := c.(*net.TCPConn)
	return tc
}

// option implements Optioner for streams: tcp-nodelay and tcp-keepalive
// (write-only) on tcp, ws and wss streams, as NNG's streams take them, and
// the read-only ws:request-headers and ws:response-headers on ws and wss
// streams.
func (s *Stream) option(name string, set bool, v any) (any, error) {
	if name == WSRequestHeaders.name || name == WSResponseHeaders.name {
		switch {
		case s.ws == nil:
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		case set:
			return nil, optErr(nanoact.CodeReadOnly, name, set)
		case name == WSRequestHeaders.name:
			return headerText(s.header), nil
		}
		return headerText(s.respHdr), nil
	}
	tc := s.tcpConn()
	if tc == nil || (name != "tcp-nodelay" && name != "tcp-keepalive") {
		return nil, optErr(nanoact.CodeNotSupported, name, set)
	}
	if !set {
		return nil, optErr(nanoact.CodeWriteOnly, name, set)
	}
	var err error
	if name == "tcp-nodelay" {
		err = tc.SetNoDelay(v.(bool))
	} else {
		err = tc.SetKeepAlive(v.(bool))
	}
	return nil, nngerr.Wrap(err, "sockets: set "+name)
}
