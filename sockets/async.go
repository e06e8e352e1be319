package sockets

import (
	"fmt"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/proto"
)

// Receiver gets the outcome of an asynchronous receive (see RecvOp): the
// message (the callee owns it) and nil, or nil and the error a blocking
// receive would have returned.
type Receiver interface {
	Received(m *Msg, err error)
}

// RecvOp is one asynchronous receive on a Socket or Context: started by
// RecvAsync, it waits in the protocol's queue, without a goroutine, until
// a message comes or the wait ends, then calls its Receiver once. This is
// what package aio builds its receive aios on; most programs use aio.
//
// A RecvOp's zero value is ready to use. It must not be copied after it
// has started, nor started again before its Receiver has been called.
type RecvOp struct {
	w    proto.Waiter
	r    Receiver
	host proto.AsyncReceiver
}

// recvDone is a RecvOp seen as the protocol engine's Completer.
type recvDone RecvOp

func (d *recvDone) Complete(m *proto.Message, err error) {
	r := d.r
	if err != nil {
		r.Received(nil, nngerr.Wrap(err, "sockets: recv"))
		return
	}
	r.Received(wrapMsg(m), nil)
}

// Cancel ends the receive if it is still waiting and reports whether it
// did; it takes the protocol's lock briefly and never blocks otherwise. If it did, the Receiver is never called: the caller completes the
// operation itself (with ErrTimedOut or ErrCanceled, say). false means the
// Receiver has been or is being called. On a req socket or context a
// cancelled receive abandons the request, as a receive that times out
// does. It never blocks.
func (op *RecvOp) Cancel() bool {
	return op.host != nil && op.host.CancelRecv(&op.w)
}

// AsyncConn is a Conn that can receive asynchronously: Socket and Context.
type AsyncConn interface {
	Conn
	// RecvAsync starts op; see Socket.RecvAsync.
	RecvAsync(op *RecvOp, r Receiver)
	// DefaultRecvTimeout returns the recv-timeout option: the bound of a
	// receive that has no deadline of its own, negative for none.
	DefaultRecvTimeout() time.Duration
}

// startRecv runs op on host, after the checks every receive makes.
func startRecv(op *RecvOp, r Receiver, closed bool, p Protocol, host proto.AsyncReceiver) {
	if closed {
		r.Received(nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: recv"})
		return
	}
	if !p.canRecv() {
		r.Received(nil, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: recv", Err: fmt.Errorf("%s sockets cannot receive", p)})
		return
	}
	op.r, op.host = r, host
	op.w.C = (*recvDone)(op)
	host.RecvAsync(&op.w)
}

// RecvAsync starts receiving one message into op and returns at once
// (NNG's nng_recv_aio). r is called exactly once with the message, or
// with the error a blocking Recv would have returned (ErrClosed,
// ErrState, ErrCanceled, ErrConnReset, ErrNotSupported...): on the calling
// goroutine before RecvAsync returns when a message is waiting or the
// receive cannot start, otherwise on the goroutine that delivers the
// message or ends the wait, which r must not block for long. r may start
// the next receive, send, or close the socket.
//
// The receive has no time limit of its own: to bound it, arm a timer that
// calls op.Cancel, with DefaultRecvTimeout if there is no other. Receives
// waiting on one socket get messages in the order they started.
//
// It costs no goroutine and no allocation beyond the received message.
func (s *Socket) RecvAsync(op *RecvOp, r Receiver) {
	startRecv(op, r, s.isClosed(), s.proto, s.eng)
}

// DefaultRecvTimeout returns the socket's recv-timeout option, negative
// for none. It never blocks.
func (s *Socket) DefaultRecvTimeout() time.Duration {
	return time.Duration(s.recvTimeout.Load())
}

// RecvAsync starts receiving one message on the context into op, as
// Socket.RecvAsync does.
func (c *Context) RecvAsync(op *RecvOp, r Receiver) {
	startRecv(op, r, c.isClosed(), c.s.proto, c.pc)
}

// DefaultRecvTimeout returns the context's recv-timeout option, negative
// for none. It never blocks.
func (c *Context) DefaultRecvTimeout() time.Duration {
	return time.Duration(c.recvTimeout.Load())
}
