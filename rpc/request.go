package rpc

import (
	"context"
	"fmt"
	"time"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// Timeout bounds a Request's wait for its reply (default: the context's
// recv-timeout option; zero: only a reply already there; negative: no
// limit), as aio.Timeout.
func Timeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.aio = append(c.aio, aio.Timeout(d)) })
}

// Signal makes a Request signal cv when it resolves, whatever the outcome
// (nanonext's request(cv = cv)).
func Signal(cv *aio.CV) Option {
	return optionFunc(func(c *config) { c.aio = append(c.aio, aio.Signal(cv)) })
}

// Request sends data on c, a req context (or socket), and returns at once
// an aio of the reply decoded as T, as nanonext's request(). The request
// is encoded in Serial mode unless SendMode says otherwise; the reply is
// decoded in Serial mode unless RecvMode says otherwise.
//
// The aio resolves to ErrRemote (wrapped) when the server answered with
// nanonext's error reply (its handler failed), to ErrTimedOut when the
// Timeout passed, and to ErrCanceled when stopped: Stop cancels the wait
// for the reply, which abandons the request (a late reply is dropped). It
// costs one goroutine until the reply arrives.
func Request[T any](c sockets.Conn, data any, opts ...Option) *aio.Aio[T] {
	cfg := defaults(opts)
	return aio.Go(func(ctx context.Context) (T, error) {
		var zero T
		if err := c.Send(ctx, data, cfg.sendMode); err != nil {
			return zero, err
		}
		m, err := c.RecvMsg(ctx)
		if err != nil {
			return zero, err
		}
		if isErrorReply(m.Body) {
			m.Free()
			return zero, fmt.Errorf("rpc: request: %w", ErrRemote)
		}
		v, err := sockets.Decode[T](m, cfg.recvMode, c.Codec())
		if _, isBytes := any(v).([]byte); err == nil && !isBytes {
			m.Free()
		}
		return v, err
	}, cfg.aio...)
}
