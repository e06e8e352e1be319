package sockets

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/proto"
)

// StageSend makes the protocol-state change of sending m at once and
// returns a function that queues m, blocking as SendMsg does (the
// socket's send-timeout applies to a ctx without deadline). It is NNG's
// nng_send_aio split in two, so that a send that has to wait on another
// goroutine still changes the state in program order: a req registers its
// request (a receive started next waits for the reply, and a later
// request cancels the queueing with ErrCanceled), a rep or respondent
// reply takes the request it answers (a receive started next takes a new
// one). Package aio uses it; Stager is the interface.
//
// queue fails with ErrTryAgain for a NonBlock ctx, keeping the staged
// state, and may then be called again; after any other outcome it must
// not be. Called with an ended ctx it gives the send up without sending
// (a req abandons its request). m is consumed once queue succeeds and
// left to the caller otherwise, as SendMsg does.
//
// StageSend itself does not block; it costs one closure (and, on a req, a
// channel) beyond what SendMsg costs.
//
// Errors: ErrNotSupported for protocols without such state (and raw
// sockets), ErrState (a reply with no request to answer), ErrClosed.
func (s *Socket) StageSend(m *Msg) (queue func(ctx context.Context) error, err error) {
	if s.isClosed() {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: send"}
	}
	return stage(s, s.eng, &s.sendTimeout, m)
}

// StageSend is Socket.StageSend on the context.
func (c *Context) StageSend(m *Msg) (queue func(ctx context.Context) error, err error) {
	if c.isClosed() {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: send"}
	}
	return stage(c.s, c.pc, &c.sendTimeout, m)
}

// Stager is a connection whose sends can be staged: Socket and Context.
type Stager interface {
	Conn
	StageSend(m *Msg) (queue func(ctx context.Context) error, err error)
}

func stage(s *Socket, target any, timeout *atomic.Int64, m *Msg) (func(context.Context) error, error) {
	st, ok := target.(proto.Stager)
	if !ok {
		return nil, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: send", Err: fmt.Errorf("%s sockets have no send state to stage", s.proto)}
	}
	mm := m.mangosMsg()
	queue, err := st.Stage(mm)
	if err != nil {
		m.Header, m.Body, m.m = mm.Header, mm.Body, mm
		return nil, nngerr.Wrap(err, "sockets: send")
	}
	return func(ctx context.Context) error {
		ctx, cancel := s.withTimeout(ctx, timeout)
		defer cancel()
		if err := queue(ctx); err != nil {
			m.Header, m.Body, m.m = mm.Header, mm.Body, mm
			return nngerr.Wrap(err, "sockets: send")
		}
		m.Header, m.Body, m.m = nil, nil, nil
		return nil
	}, nil
}
