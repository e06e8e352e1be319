package proto

import (
	"context"
	"encoding/binary"
	"sync"

	"go.nanomsg.org/mangos/v3"
)

// replier implements rep and respondent, which differ only in protocol
// numbers: receive a request (or survey) with its backtrace, then send one
// reply back along it to the pipe it came from. In raw mode the header of a
// received message is the 4-byte pipe id followed by the backtrace, and a
// sent message is routed by the pipe id at the front of its header.
type replier struct {
	cooked[*replyCtx]
}

type replyCtx struct {
	s      *replier
	mu     sync.Mutex
	pipe   uint32
	bt     []byte // backtrace of the request being answered
	has    bool   // a request is waiting for its answer
	closed bool
	closeq chan struct{}
}

func newReplier(raw bool, info mangos.ProtocolInfo) *replier {
	e := newEngine(info, raw, -1, true)
	s := &replier{cooked: cooked[*replyCtx]{engine: e}}
	s.cooked.newCtx = s.newCtx
	e.onRecv = func(p *pipe, m *Message) {
		if splitBacktrace(m, p.id, raw, defaultTTL) {
			p.deliver(m)
		} else {
			e.dropped(DropBad)
		}
	}
	if !raw {
		s.def = s.newCtx()
	}
	return s
}

func (s *replier) newCtx() *replyCtx { return &replyCtx{s: s, closeq: make(chan struct{})} }

func (s *replier) Send(ctx context.Context, m *Message) error {
	if !s.raw {
		return s.def.Send(ctx, m)
	}
	if len(m.Header) < 4 {
		m.Free()
		return nil // nowhere to send it: dropped, as NNG does
	}
	id := binary.BigEndian.Uint32(m.Header)
	m.Header = m.Header[4:]
	return s.sendTo(ctx, id, m, "sockets: send")
}

func (c *replyCtx) Recv(ctx context.Context) (*Message, error) {
	if c.closedNow() {
		return nil, errClosed
	}
	m, err := c.s.get(ctx, c.s.recvq, c.closeq, "sockets: recv")
	if err != nil {
		return nil, err
	}
	return c.took(m), nil
}

// took makes m the request being answered: a new request replaces one
// left unanswered. The header (backtrace) is kept for the reply.
func (c *replyCtx) took(m *Message) *Message {
	c.mu.Lock()
	c.pipe = m.Pipe.ID()
	c.bt = append(c.bt[:0], m.Header...)
	c.has = true
	c.mu.Unlock()
	m.Header = m.Header[:0]
	return m
}

func (c *replyCtx) closedNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// RecvAsync implements AsyncReceiver: the waiter queues on the socket's
// receive queue beside those of other contexts.
func (c *replyCtx) RecvAsync(w *Waiter) { c.s.recvAsync(w, c) }

// CancelRecv implements AsyncReceiver.
func (c *replyCtx) CancelRecv(w *Waiter) bool { return c.s.engine.CancelRecv(w) }

func (c *replyCtx) Send(ctx context.Context, m *Message) error {
	id, err := c.answer(m)
	if err != nil {
		return err
	}
	return c.s.sendTo(ctx, id, m, "sockets: send")
}

// Stage implements Stager: m answers the request received last, at once
// (a receive started next takes a new request); the function returned
// sends it back to the pipe the request came on.
func (c *replyCtx) Stage(m *Message) (func(context.Context) error, error) {
	id, err := c.answer(m)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if !IsNonBlock(ctx) && ctx.Err() != nil {
			return waitErr(ctx, "sockets: send")
		}
		return c.s.sendTo(ctx, id, m, "sockets: send")
	}, nil
}

// answer gives m the backtrace of the request being answered, which it
// consumes, and returns the pipe to send it to.
func (c *replyCtx) answer(m *Message) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errClosed
	}
	if !c.has {
		return 0, errState
	}
	m.Header = append(m.Header[:0], c.bt...)
	c.has = false
	return c.pipe, nil
}

func (c *replyCtx) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	c.closed = true
	c.has = false
	close(c.closeq)
	c.mu.Unlock()
	c.s.failWaiters(func(w *Waiter) bool { return w.owner == waitOwner(c) })
	return nil
}
