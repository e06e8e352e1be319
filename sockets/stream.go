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
		var tc *tls.Config // wss: the client config
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
				tc = cfg.tls.clientConfig(host, nil)
			} else {
				// The system's roots, the name checked as NNG does.
				tc = transport.VerifyLikeNNG(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
			}
		}
		ws, respHdr, err := transport.DialWSStream(ctx, addr, cfg.header, tc)
		if err != nil {
			return nil, reOp(err, op)
		}
		s.header = cfg.header
		s.respHdr = respHdr
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

// SendMsg writes m's body, as Send does. It leaves m as it is: the
// caller may Free or reuse m afterwards.
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

// reOp gives an error of the transport's websocket streams the stream's
// operation name, keeping its code and cause.
func reOp(err error, op string) error {
	var ne *nanoact.Error
	if errors.As(err, &ne) {
		return &nanoact.Error{Code: ne.Code, Op: op, Err: ne.Err}
	}
	return nngerr.Wrap(err, op)
}
