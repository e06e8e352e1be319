package rpc

import (
	"context"
	"errors"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/tracing"
	"github.com/nanoact/nanoact/sockets"
)

// Timeout bounds a Request's wait for its reply (default: the context's
// recv-timeout option; zero: only a reply already there; negative: no
// limit), as aio.Timeout.
func Timeout(d time.Duration) Option {
	return optionFunc(func(c config) config { c.aio = append(c.aio, aio.Timeout(d)); return c })
}

// Signal makes a Request signal cv when it resolves, whatever the outcome
// (nanonext's request(cv = cv)).
func Signal(cv *aio.CV) Option {
	return optionFunc(func(c config) config { c.aio = append(c.aio, aio.Signal(cv)); return c })
}

// Request sends data on c, a req context (or socket), and returns at once
// an aio of the reply decoded as T, as nanonext's request(). The request
// is encoded in Serial mode unless SendMode says otherwise; the reply is
// decoded in Serial mode unless RecvMode says otherwise.
//
// The aio resolves to ErrRemote when the server answered with nanonext's
// error reply (its handler returned an error or panicked; the wire does
// not say which), to ErrTimedOut when the
// Timeout passed, and to ErrCanceled when stopped: Stop cancels the wait
// for the reply, which abandons the request (a late reply is dropped). A
// reply that cannot be decoded as T (in Serial mode, one without the
// serial marker) resolves to a *nanoact.ConvertError with Op "rpc:
// request" that holds the reply's bytes.
//
// The error reply is the single byte 0x00. A Serial-mode reply never looks
// like it (it starts with the serial marker), but a Raw-mode reply of ""
// (a lone NUL) is that byte on the wire: such an answer resolves to
// ErrRemote, as in nanonext, where the two cannot be told apart either.
//
// Pipe reports the connection the reply came on, for ClosePipe, however
// the request was sent.
//
// Cost: on a sockets.Socket or Context whose request can be queued at
// once, the request is sent on the caller's goroutine and the reply is
// awaited with no goroutine (aio.RecvFunc). When no connection can take
// the request yet, it is staged (registered at once, so the reply is
// awaited as before) and waits its turn as an aio.Send without a time
// limit of its own: the Timeout, or the recv-timeout, bounds the whole
// request, and a request abandoned then is never sent. On another Conn
// one goroutine sends and waits.
//
// Tracing: see WithTracerProvider; a program that installs no
// TracerProvider pays nothing for it.
func Request[T any](c sockets.Conn, data any, opts ...Option) *aio.Aio[T] {
	cfg := defaults(opts)
	if tr := tracing.Tracer(cfg.tp); tr != nil {
		return tracedRequest[T](tr, c, data, cfg)
	}
	return request[T](c, data, cfg)
}

// request is Request with its options applied.
func request[T any](c sockets.Conn, data any, cfg config) *aio.Aio[T] {
	cd := c.Codec()
	mode := cfg.recvMode // the closure keeps this, not the whole config
	decode := func(m *sockets.Msg) (T, error) { return decodeReply[T](m, mode, cd) }
	if _, ok := c.(sockets.AsyncConn); ok {
		err := c.Send(nonBlock, data, cfg.sendMode)
		if errors.Is(err, nanoact.ErrTryAgain) {
			// The staged send ends with the request: when the receive
			// below ends without a reply, it abandons the request, which
			// gives the send up (ErrCanceled), and closing c fails both.
			s := aio.Send(c, data, aio.Mode(cfg.sendMode), aio.Timeout(-1))
			if _, err = s.Result(); errors.Is(err, nanoact.ErrTryAgain) {
				err = nil // pending
			}
		}
		if err == nil {
			return aio.RecvFunc(c, decode, cfg.aio...)
		}
		a, resolve := aio.NewPending[T](nil, cfg.aio...)
		var zero T
		resolve(zero, err)
		return a
	}
	return aio.Go(func(ctx context.Context) (T, error) {
		var zero T
		if err := c.Send(ctx, data, cfg.sendMode); err != nil {
			return zero, err
		}
		m, err := c.RecvMsg(ctx)
		if err != nil {
			return zero, err
		}
		return decode(m)
	}, cfg.aio...)
}

// nonBlock is the context of a send tried at once; it is never changed.
var nonBlock = sockets.NonBlock(context.Background())

// decodeReply decodes a reply as T, or returns ErrRemote for nanonext's
// error reply. It frees m unless the value may share its bytes.
func decodeReply[T any](m *sockets.Msg, mode sockets.Mode, cd sockets.Codec) (T, error) {
	var zero T
	if isErrorReply(m.Body) {
		m.Free()
		return zero, ErrRemote
	}
	v, err := sockets.Take[T](m, mode, cd)
	return v, relabel(err, "rpc: request")
}
