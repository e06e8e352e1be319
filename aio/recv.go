package aio

import (
	"context"
	"errors"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// Recv starts receiving one message on con (a *sockets.Socket, a
// *sockets.Context, or any sockets.Conn) and returns its aio at once,
// never blocking (nanonext's recv_aio). The message is decoded as T once,
// when it arrives, by sockets.Decode: in Serial mode (the default) by the
// connection's Codec as it is when Recv is called, in a raw mode
// (Mode(sockets.Raw) and the others) from its bytes by T's type. T may also
// be *sockets.Msg, which gets the message itself, header and body, in any
// mode. Pipe reports the connection the message came on.
//
// The aio resolves to the value, or to an error: ErrTimedOut (see
// Timeout), ErrCanceled (Stop), ErrClosed (con closed), ErrState (a req
// with no request outstanding), ErrNotSupported, ErrInvalid (nil con), or a
// *nanoact.ConvertError (errors.Is ErrBadType) holding the raw bytes when
// they do not decode as T.
//
// Cost: on a *sockets.Socket or *sockets.Context, no goroutine: the
// receive waits in the protocol's queue (sockets.RecvOp), and a
// Timeout, or the connection's recv-timeout, is one timer. Receives
// waiting on one connection get messages in the order they were started.
// On another Conn one goroutine waits for the message instead (see Aio).
// A Timeout(0) receive completes inside Recv.
func Recv[T any](con sockets.Conn, opts ...Option) *Aio[T] {
	return recv[T](con, nil, opts)
}

// RecvFunc starts receiving one message on con, as Recv does, and
// resolves to what fn makes of it: fn gets the message (its header,
// body and pipe id; it owns it) and returns the aio's value or error.
// Use it for decoding Recv's modes do not offer, or to check a message
// before decoding it (the rpc package's error replies). fn is called at
// most once, on the goroutine that completes the receive (see OnComplete),
// and must not block; it is not called when the receive fails. A nil fn
// resolves the aio to ErrInvalid. Mode does not apply.
func RecvFunc[T any](con sockets.Conn, fn func(m *sockets.Msg) (T, error), opts ...Option) *Aio[T] {
	if fn == nil {
		a, _ := newAio[T](opts)
		var zero T
		a.resolve(zero, &nanoact.Error{Code: nanoact.CodeInvalid, Op: "aio: recv", Err: errors.New("nil function")}, 0)
		return a
	}
	return recv[T](con, fn, opts)
}

// recvAio is the aio of a receive: the state only a receive needs lies
// beside its Aio, in the same allocation, so that the aios of other
// operations (sends, Go, NewOwned: a task runner's queued tasks) do not
// carry it.
type recvAio[T any] struct {
	Aio[T]
	rop  sockets.RecvOp // an asynchronous receive (see recvAsync)
	dec  decoder[T]     // RecvFunc's function; nil for Recv
	cd   sockets.Codec  // how the message decodes
	mode int8           // a sockets.Mode
}

func recv[T any](con sockets.Conn, fn decoder[T], opts []Option) *Aio[T] {
	r := &recvAio[T]{dec: fn}
	a := &r.Aio
	cfg := a.init(opts)
	if con == nil {
		var zero T
		a.resolve(zero, errNilConn("aio: recv"), 0)
		return a
	}
	r.mode, r.cd = int8(cfg.mode), con.Codec()
	if ac, ok := con.(sockets.AsyncConn); ok && r.recvAsync(ac, &cfg) {
		return a
	}
	if cfg.hasTimeout && cfg.timeout == 0 {
		m, err := con.RecvMsg(expiredCtx{})
		r.finishRecv(m, err)
		return a
	}
	// A Conn of another kind: the goroutine, or a waiter that runs the
	// operation itself (help), takes the message.
	a.start(&cfg, &opState{con: con, rx: r})
	go a.runOp()
	return a
}

// asyncOp is an aio whose receive waits in the protocol's queue.
type asyncOp interface {
	// cancelAsync takes the receive out of the queue and, if it was still
	// there, resolves the aio with the error of why (canceled, expired).
	cancelAsync(why uint32)
}

// recvDone is a receive's aio seen as the Receiver of its asynchronous
// receive.
type recvDone[T any] recvAio[T]

func (d *recvDone[T]) Received(m *sockets.Msg, err error) {
	(*recvAio[T])(d).finishRecv(m, err)
}

// recvAsync starts the receive without a goroutine, queued in the
// protocol until a message comes (sockets.RecvOp), and reports false,
// having started nothing, when the receive must complete at once (a zero
// time-out, which Recv handles). The time-out's
// timer is made before the receive starts, so that whoever completes it
// finds the timer to stop, and armed after.
func (r *recvAio[T]) recvAsync(ac sockets.AsyncConn, cfg *config) bool {
	a := &r.Aio
	d, bounded := cfg.timeout, cfg.hasTimeout
	if !bounded {
		d = ac.DefaultRecvTimeout()
		bounded = d >= 0
	}
	if bounded && d <= 0 {
		return false
	}
	a.async = r
	var t *time.Timer
	if bounded {
		t = time.AfterFunc(time.Duration(math.MaxInt64), a.expire)
		a.extra().timer = t
	}
	ac.RecvAsync(&r.rop, (*recvDone[T])(r))
	if t != nil && !a.resolved() {
		t.Reset(d)
	}
	return true
}

func (r *recvAio[T]) cancelAsync(why uint32) {
	if !r.rop.Cancel() {
		return
	}
	a := &r.Aio
	var zero T
	if why == expired {
		a.resolve(zero, &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "aio: recv", Err: context.DeadlineExceeded}, 0)
		return
	}
	a.resolve(zero, &nanoact.Error{Code: nanoact.CodeCanceled, Op: "aio: recv", Err: context.Canceled}, 0)
}

// finishRecv decodes the received message and resolves the aio.
func (r *recvAio[T]) finishRecv(m *sockets.Msg, err error) {
	a := &r.Aio
	mode := sockets.Mode(r.mode)
	var v T
	if err != nil {
		a.resolve(v, err, 0)
		return
	}
	pipe := m.Pipe
	if r.dec != nil {
		v, err = r.decode(m)
		a.resolve(v, err, pipe)
		return
	}
	if p, ok := any(&v).(**sockets.Msg); ok {
		*p = m
		a.resolve(v, nil, pipe)
		return
	}
	v, err = sockets.Take[T](m, mode, r.cd)
	a.resolve(v, err, pipe)
}

// decode runs RecvFunc's function; a panic in it becomes the aio's error
// (ErrInternal), so that it cannot take down the connection's reader.
func (r *recvAio[T]) decode(m *sockets.Msg) (v T, err error) {
	a := &r.Aio
	defer func() {
		if r := recover(); r != nil {
			a.logger().Error("aio: recv function panicked", zap.Any("panic", r), zap.Stack("stack"))
			err = nanoact.Errorf(nanoact.CodeInternal, "aio: recv", "function panicked: %v", r)
		}
	}()
	return r.dec(m)
}
