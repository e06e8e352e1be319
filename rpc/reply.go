package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"go.opentelemetry.io/otel/trace"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/tracing"
	"github.com/nanoact/nanoact/sockets"
)

// ErrorReply is the payload nanonext sends back when the server's handler
// fails: a single zero byte. R, C and Go clients of nanonext's reply()
// recognise it. No Serial-mode reply can look like it, since every serial
// payload starts with the serial marker; a Raw-mode reply of "" (a lone
// NUL, also []string{""} or []byte{0}) does, as in nanonext.
var errorReply = []byte{0}

// Handler answers one request. Its context ends when the server shuts
// down or the caller of Reply cancels.
type Handler[Req, Resp any] func(ctx context.Context, req Req) (Resp, error)

// Option configures Reply, Request, servers and clients. Its apply takes
// the config by value and returns it, so that the config stays on the
// caller's stack.
type Option interface{ apply(config) config }

type config struct {
	recvMode sockets.Mode
	sendMode sockets.Mode
	aio      []aio.Option // Request's time-out and signals

	tp     trace.TracerProvider // WithTracerProvider (nil: otel's global one)
	parent context.Context      // ParentSpan
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

func defaults(opts []Option) config {
	c := config{recvMode: sockets.Serial, sendMode: sockets.Serial}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// RecvMode sets how requests (Reply, servers) or replies (Request) are
// decoded: Serial (the default, the connection's codec) or a raw mode.
func RecvMode(m sockets.Mode) Option {
	return optionFunc(func(c config) config { c.recvMode = m; return c })
}

// SendMode sets how replies (Reply, servers) or requests (Request) are
// encoded: Serial (the default) or Raw.
func SendMode(m sockets.Mode) Option {
	return optionFunc(func(c config) config { c.sendMode = m; return c })
}

// PanicError is the error of a handler that panicked: the panic value and
// the stack where it happened.
type PanicError struct {
	Value any
	Stack []byte
}

// Error describes the panic.
func (e *PanicError) Error() string { return fmt.Sprintf("rpc: handler panicked: %v", e.Value) }

// Reply waits on c (a rep context or socket) for one request, decodes it
// as Req, calls h and sends its result back, as nanonext's reply(). If h
// returns an error or panics, the single byte 0x00 goes back instead
// (nanonext's error reply, understood by R and C peers) and Reply returns
// the error (a *PanicError for a panic).
//
// A Serial-mode reply starts with the serial marker and so can never be
// taken for the error byte. A Raw-mode reply of "" (or []string{""}, or
// []byte{0}) is that very byte on the wire: the client cannot tell it
// from a failed handler and reports ErrRemote, as nanonext's clients do.
//
// It blocks until a request arrives (ctx without deadline: as long as it
// takes, subject to the socket's recv-timeout) and then for the send. A
// request that cannot be decoded (in Serial mode, one that lacks the
// serial marker, such as a raw request) gets the error reply and its
// *nanoact.ConvertError, with Op "rpc: reply", is returned.
func Reply[Req, Resp any](ctx context.Context, c sockets.Conn, h Handler[Req, Resp], opts ...Option) error {
	cfg := defaults(opts)
	m, err := c.RecvMsg(ctx)
	if err != nil {
		return err
	}
	reply, herr := serve(ctx, m, c.Codec(), h, cfg)
	err = c.SendMsg(ctx, reply)
	// A sent reply's wrapper is empty (SendMsg took its buffers); an
	// unsent one still holds them: either way it goes back to the pool.
	reply.Free()
	if err != nil {
		return err
	}
	return herr
}

// serve decodes one request, runs the handler and builds the reply (the
// error reply on failure), recovering a panic.
func serve[Req, Resp any](ctx context.Context, m *sockets.Msg, cd sockets.Codec, h Handler[Req, Resp], cfg config) (reply *sockets.Msg, err error) {
	sc := untrace(m, cfg.recvMode)
	if tr := tracing.Tracer(cfg.tp); tr != nil {
		var span trace.Span
		ctx, span = startReply(ctx, tr, sc)
		defer func() { tracing.End(span, err) }()
	}
	req, err := sockets.Take[Req](m, cfg.recvMode, cd)
	if err != nil {
		return sockets.NewMsg(errorReply), relabel(err, "rpc: reply")
	}
	defer func() {
		if r := recover(); r != nil {
			reply, err = sockets.NewMsg(errorReply), &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	resp, err := h(ctx, req)
	if err != nil {
		return sockets.NewMsg(errorReply), err
	}
	return encodeReply(resp, cfg.sendMode, cd)
}

func encodeReply(v any, mode sockets.Mode, cd sockets.Codec) (*sockets.Msg, error) {
	if mode != sockets.Serial {
		b, err := rawBytes(v)
		if err != nil {
			return sockets.NewMsg(errorReply), err
		}
		return sockets.NewMsg(b), nil
	}
	m := sockets.NewMsg(nil)
	b, err := codec.AppendSerial(m.Body, cd, v)
	if err != nil {
		m.Free()
		return sockets.NewMsg(errorReply), &nanoact.Error{Code: nanoact.CodeBadType, Op: "rpc: encode reply", Err: err}
	}
	m.Body = b
	return m, nil
}

// relabel names op as the operation of a *nanoact.ConvertError in err.
func relabel(err error, op string) error {
	var ce *nanoact.ConvertError
	if errors.As(err, &ce) {
		ce.Op = op
	}
	return err
}

// ErrRemote is the error of a request whose server answered with the
// error reply: its handler returned an error or panicked (or, in Raw mode,
// it answered "", the same byte). The reply cannot say which: nanonext's
// error reply is exactly one 0x00 byte, and a nanonext client takes a
// longer reply for data, so a nanoact server sends nothing more. The
// server knows: Reply returns the handler's error (a *PanicError for a
// panic), and Server logs it.
var ErrRemote = errors.New("rpc: request: the server's handler failed (returned an error or panicked)")

// isErrorReply reports whether a reply body is nanonext's error reply.
func isErrorReply(b []byte) bool { return bytes.Equal(b, errorReply) }

// rawBytes encodes v in Raw mode.
func rawBytes(v any) ([]byte, error) {
	b, err := codec.AppendRaw(nil, v)
	return b, nngerr.Wrap(err, "rpc: encode reply")
}
