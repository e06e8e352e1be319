package proto

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

// DefaultResendTime is req:resend-time's default, as NNG's.
const DefaultResendTime = time.Minute

// req: each request gets an id (high bit set) in a 4-byte header; the reply
// carries it back. A context holds at most one request: sending again
// abandons the previous one (a receive waiting on it ends ErrCanceled).
// An unanswered request is resent every resend time.
type req struct {
	*engine
	mu     sync.Mutex
	nextID atomic.Uint32
	byID   map[uint32]*reqCtx
	resend time.Duration
	def    *reqCtx
}

type reqCtx struct {
	s      *req
	id     uint32        // outstanding request id, 0 = none
	msg    *Message      // kept for resend
	replyq chan *Message // receives the one reply
	cancel chan struct{} // closed when the request is abandoned
	timer  *time.Timer
	closed bool
	closeq chan struct{}
}

func newReq(raw bool) *req {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoReq, Peer: mangos.ProtoRep, SelfName: "req", PeerName: "rep"}, raw, 0, raw)
	s := &req{engine: e, byID: make(map[uint32]*reqCtx), resend: DefaultResendTime}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.nextID.Store(binary.BigEndian.Uint32(b[:]))
	if raw {
		e.onRecv = func(p *pipe, m *Message) {
			if !splitBacktrace(m, defaultTTL) {
				m.Free()
				return
			}
			p.deliver(e.recvq, m)
		}
	} else {
		e.onRecv = s.recvReply
		s.def = s.newCtx()
	}
	return s
}

func (s *req) newCtx() *reqCtx {
	return &reqCtx{s: s, closeq: make(chan struct{})}
}

// SetResendTime sets req:resend-time for requests sent from now on; zero or
// negative disables resending.
func (s *req) SetResendTime(d time.Duration) {
	s.mu.Lock()
	s.resend = d
	s.mu.Unlock()
}

// ResendTime returns req:resend-time.
func (s *req) ResendTime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resend
}

func (s *req) recvReply(_ *pipe, m *Message) {
	if len(m.Body) < 4 {
		m.Free()
		return
	}
	id := binary.BigEndian.Uint32(m.Body)
	m.Body = m.Body[4:]
	s.mu.Lock()
	c := s.byID[id]
	if c == nil {
		s.mu.Unlock()
		m.Free() // stale or duplicate reply
		return
	}
	delete(s.byID, id)
	c.stopTimer()
	c.id = 0
	if c.msg != nil {
		c.msg.Free()
		c.msg = nil
	}
	q := c.replyq
	s.mu.Unlock()
	select {
	case q <- m: // cap 1, and only one reply per id reaches here
	default:
		m.Free()
	}
}

func (s *req) Send(ctx context.Context, m *Message) error {
	if s.raw {
		return s.put(ctx, s.sendq, m, "sockets: send")
	}
	return s.def.Send(ctx, m)
}

func (s *req) Recv(ctx context.Context) (*Message, error) {
	if s.raw {
		return s.get(ctx, s.recvq, nil, "sockets: recv")
	}
	return s.def.Recv(ctx)
}

func (s *req) NewContext() (Context, error) {
	if s.raw {
		return nil, errNotSupported
	}
	if s.isClosed() {
		return nil, errClosed
	}
	return s.newCtx(), nil
}

// abandon drops c's outstanding request. Call with s.mu held.
func (c *reqCtx) abandon() {
	if c.id == 0 {
		return
	}
	delete(c.s.byID, c.id)
	c.stopTimer()
	close(c.cancel)
	if c.msg != nil {
		c.msg.Free()
		c.msg = nil
	}
	c.id = 0
}

func (c *reqCtx) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

func (c *reqCtx) Send(ctx context.Context, m *Message) error {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return errClosed
	}
	c.abandon()
	id := s.nextID.Add(1) | 0x80000000
	c.id = id
	c.replyq = make(chan *Message, 1)
	c.cancel = make(chan struct{})
	m.Header = binary.BigEndian.AppendUint32(m.Header[:0], id)
	resend := s.resend
	if resend > 0 {
		c.msg = m.Dup()
	}
	s.byID[id] = c
	s.mu.Unlock()

	if err := s.put(ctx, s.sendq, m, "sockets: send"); err != nil {
		s.mu.Lock()
		if c.id == id {
			c.abandon()
		}
		s.mu.Unlock()
		return err
	}
	if resend > 0 {
		s.mu.Lock()
		if c.id == id {
			c.timer = time.AfterFunc(resend, func() { c.resend(id) })
		}
		s.mu.Unlock()
	}
	return nil
}

// resend puts the request back on the send queue if it is still
// outstanding, and re-arms the timer.
func (c *reqCtx) resend(id uint32) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.id != id || c.msg == nil || s.isClosed() {
		return
	}
	m := c.msg.Dup()
	select {
	case s.sendq <- m:
	default:
		m.Free() // no pipe free now; try again next time
	}
	if s.resend > 0 {
		c.timer = time.AfterFunc(s.resend, func() { c.resend(id) })
	}
}

func (c *reqCtx) Recv(ctx context.Context) (*Message, error) {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	if c.id == 0 && len(c.replyq) == 0 {
		s.mu.Unlock()
		return nil, &nanoact.Error{Code: nanoact.CodeState, Op: "sockets: recv"}
	}
	id, q, cancel := c.id, c.replyq, c.cancel
	s.mu.Unlock()

	done := func(m *Message) (*Message, error) {
		s.mu.Lock()
		if c.replyq == q {
			c.replyq = nil
			if c.msg != nil {
				c.msg.Free()
				c.msg = nil
			}
		}
		s.mu.Unlock()
		return m, nil
	}
	select {
	case m := <-q:
		return done(m)
	default:
	}
	if IsNonBlock(ctx) {
		// NNG keeps the request outstanding after a non-blocking miss.
		return nil, waitErr(ctx, "sockets: recv")
	}
	select {
	case m := <-q:
		return done(m)
	case <-cancel:
		return nil, &nanoact.Error{Code: nanoact.CodeCanceled, Op: "sockets: recv"}
	case <-c.closeq:
		return nil, errClosed
	case <-s.closeq:
		return nil, errClosed
	case <-ctx.Done():
		// As in NNG, a receive that times out or is cancelled aborts the
		// request: a late reply is dropped.
		s.mu.Lock()
		if c.id == id {
			c.abandon()
		}
		s.mu.Unlock()
		return nil, waitErr(ctx, "sockets: recv")
	}
}

func (c *reqCtx) Close() error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return errClosed
	}
	c.closed = true
	c.abandon()
	close(c.closeq)
	return nil
}

// Close stops every timer, then closes the socket.
func (s *req) Close() error {
	s.mu.Lock()
	for _, c := range s.byID {
		c.stopTimer()
	}
	s.mu.Unlock()
	return s.engine.Close()
}
