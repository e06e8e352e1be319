package proto

import (
	"bytes"
	"context"
	"sync"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

// sub: receives the messages whose body starts with a subscribed topic.
// Each context has its own topics and its own queue; a full queue drops
// its oldest message (NNG's sub:prefnew default). In raw mode every
// message is delivered, unfiltered.
//
// Queue depths follow NNG 1.x's sub0: the socket's recv-buffer sets the
// default context's queue and the depth of contexts opened later (those
// opened before keep theirs); a context's own recv-buffer (1..8192) sets
// its queue only.
type sub struct {
	*engine
	recvOnly
	mu      sync.Mutex
	ctxs    map[*subCtx]struct{}
	def     *subCtx
	prefNew bool // default of contexts opened later
	qlen    int  // receive queue depth of contexts opened later
}

// PrefNewer is implemented by sub sockets and contexts (sub:prefnew).
type PrefNewer interface {
	SetPrefNew(b bool)
	PrefNew() bool
}

type subCtx struct {
	s       *sub
	topics  [][]byte
	q       *queue   // resized (SetBuffer) only with s.mu held
	aw      waitList // asynchronous receives; they wait only while q is empty
	prefNew bool
	closed  bool
	closeq  chan struct{}
}

func newSub(raw bool) *sub {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoSub, Peer: mangos.ProtoPub, SelfName: "sub", PeerName: "pub"}, raw, -1, false)
	s := &sub{engine: e, ctxs: make(map[*subCtx]struct{}), prefNew: true, qlen: defaultRecvBuffer}
	s.def = s.newCtx()
	e.onRecv = s.recv
	e.ready.waiting = func() int { return len(s.def.q.cur().ch) }
	return s
}

func (s *sub) newCtx() *subCtx {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &subCtx{s: s, q: newQueue(s.qlen), prefNew: s.prefNew, closeq: make(chan struct{})}
	s.ctxs[c] = struct{}{}
	return c
}

func (s *sub) recv(_ *pipe, m *Message) {
	type handOff struct {
		w *Waiter
		m *Message
	}
	var given []handOff
	s.mu.Lock()
	for c := range s.ctxs {
		if !s.raw && !c.matches(m.Body) {
			continue
		}
		m.Clone()
		if w := c.aw.pop(); w != nil {
			given = append(given, handOff{w, m})
			continue
		}
		q := c.q.cur().ch
		for {
			select {
			case q <- m:
			default:
				if !c.prefNew || cap(q) == 0 {
					m.Free() // full, and told to keep the old ones
					s.dropped(DropRecvFull)
					break
				}
				// Full: drop the oldest, keep the newest.
				select {
				case old := <-q:
					old.Free()
					s.dropped(DropRecvFull)
				default:
				}
				continue
			}
			break
		}
	}
	s.mu.Unlock()
	m.Free()
	s.ready.notify()
	for _, g := range given {
		s.complete(g.w, g.m) // its owner, the context, makes it its own
	}
}

// own gives a receiver its own copy of a message several contexts may
// share, without the header.
func own(m *Message) *Message {
	m = m.MakeUnique()
	m.Header = m.Header[:0]
	return m
}

func (c *subCtx) matches(body []byte) bool {
	for _, t := range c.topics {
		if bytes.HasPrefix(body, t) {
			return true
		}
	}
	return false
}

func (s *sub) Recv(ctx context.Context) (*Message, error) { return s.def.Recv(ctx) }

// SetPrefNew sets sub:prefnew on the socket and for contexts opened later.
func (s *sub) SetPrefNew(b bool) {
	s.mu.Lock()
	s.prefNew, s.def.prefNew = b, b
	s.mu.Unlock()
}

// PrefNew returns the socket's sub:prefnew.
func (s *sub) PrefNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prefNew
}

// SetPrefNew sets sub:prefnew on this context.
func (c *subCtx) SetPrefNew(b bool) {
	c.s.mu.Lock()
	c.prefNew = b
	c.s.mu.Unlock()
}

// PrefNew returns this context's sub:prefnew.
func (c *subCtx) PrefNew() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.prefNew
}

// SetBuffer sets the receive queue depth of the socket and of contexts
// opened later (not of those already open, as in NNG), at any time,
// keeping the messages queued; shrinking drops the oldest that no longer
// fit (drop_recv_full), as NNG does. sub has no send queue.
func (s *sub) SetBuffer(send bool, n int) error {
	if send {
		return errNotSupported
	}
	s.mu.Lock()
	s.qlen = n
	s.def.q.resize(n, s.spillRecv)
	s.mu.Unlock()
	s.ready.notify()
	return nil
}

// Buffer returns the receive queue depth.
func (s *sub) Buffer(send bool) (int, error) {
	if send {
		return 0, errNotSupported
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qlen, nil
}

// SetBuffer sets this context's receive queue depth (NNG's recv-buffer on
// a sub context, 1..8192, else ErrInvalid), at any time, keeping the
// messages queued; shrinking drops the oldest that no longer fit
// (drop_recv_full). The socket's depth, and that of contexts opened
// later, stay as they are. No send queue: ErrNotSupported. Cost: one
// allocation of n slots.
func (c *subCtx) SetBuffer(send bool, n int) error {
	if send {
		return errNotSupported
	}
	if n < 1 || n > 8192 {
		return nanoact.Errorf(nanoact.CodeInvalid, "sockets: set recv-buffer", "%d messages, want 1..8192", n)
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed {
		return errClosed
	}
	c.q.resize(n, s.spillRecv)
	return nil
}

// Buffer returns this context's receive queue depth.
func (c *subCtx) Buffer(send bool) (int, error) {
	if send {
		return 0, errNotSupported
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return cap(c.q.cur().ch), nil
}

func (s *sub) Subscribe(topic []byte) error   { return s.def.Subscribe(topic) }
func (s *sub) Unsubscribe(topic []byte) error { return s.def.Unsubscribe(topic) }

func (s *sub) NewContext() (Context, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	if s.raw { // NNG's raw sub (xsub0) has no contexts
		return nil, errNotSupported
	}
	return s.newCtx(), nil
}

func (c *subCtx) Send(context.Context, *Message) error { return errNotSupported }

func (c *subCtx) Recv(ctx context.Context) (*Message, error) {
	m, err := c.s.get(ctx, c.q, c.closeq, "sockets: recv")
	if err != nil {
		return nil, err
	}
	return own(m), nil
}

// RecvAsync implements AsyncReceiver.
func (s *sub) RecvAsync(w *Waiter) { s.def.RecvAsync(w) }

// CancelRecv implements AsyncReceiver.
func (s *sub) CancelRecv(w *Waiter) bool { return s.def.CancelRecv(w) }

// RecvAsync implements AsyncReceiver: the waiter gets the context's next
// matching message.
func (c *subCtx) RecvAsync(w *Waiter) {
	s := c.s
	s.mu.Lock()
	if c.closed || s.isClosed() {
		refuse(&s.mu, w, errClosed)
		return
	}
	w.owner = c
	s.takeOrQueue(&s.mu, c.q.cur().ch, &c.aw, w)
}

// took gives the receiver its own copy of m (see own).
func (c *subCtx) took(m *Message) *Message { return own(m) }

// closedNow reports whether c is closed; call with s.mu held.
func (c *subCtx) closedNow() bool { return c.closed }

// CancelRecv implements AsyncReceiver.
func (c *subCtx) CancelRecv(w *Waiter) bool { return cancelIn(&c.s.mu, &c.aw, w) }

// Close closes the socket, then fails the asynchronous receives still
// waiting (none can start once the socket is closed).
func (s *sub) Close() error {
	err := s.engine.Close()
	closeWaiters(&s.mu, func(yield func(*waitList)) {
		for c := range s.ctxs {
			yield(&c.aw)
		}
	})
	return err
}

// Subscribe adds topic (a copy is kept); subscribing twice is harmless.
func (c *subCtx) Subscribe(topic []byte) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.closed {
		return errClosed
	}
	for _, t := range c.topics {
		if bytes.Equal(t, topic) {
			return nil
		}
	}
	c.topics = append(c.topics, append([]byte{}, topic...))
	return nil
}

// Unsubscribe removes topic; ErrNotFound if it was not subscribed.
func (c *subCtx) Unsubscribe(topic []byte) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.closed {
		return errClosed
	}
	for i, t := range c.topics {
		if bytes.Equal(t, topic) {
			c.topics = append(c.topics[:i], c.topics[i+1:]...)
			// Drop queued messages that no longer match.
			q := c.q.cur().ch
			n := len(q)
			for range n {
				var m *Message
				select {
				case m = <-q:
				default: // a receive took the rest meanwhile
				}
				if m == nil {
					break
				}
				if c.matches(m.Body) {
					q <- m
				} else {
					m.Free()
				}
			}
			return nil
		}
	}
	return &nanoact.Error{Code: nanoact.CodeNotFound, Op: "sockets: unsubscribe"}
}

func (c *subCtx) Close() error {
	c.s.mu.Lock()
	if c.closed {
		c.s.mu.Unlock()
		return errClosed
	}
	c.closed = true
	close(c.closeq)
	delete(c.s.ctxs, c)
	c.q.drain()
	ws := c.aw.takeIf(nil)
	c.s.mu.Unlock()
	failAll(ws, errClosed)
	return nil
}
