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
	cooked[*reqCtx]
	mu     sync.Mutex
	nextID atomic.Uint32
	byID   map[uint32]*reqCtx
	ctxs   map[*reqCtx]struct{} // open contexts, the default one included
	// again holds the ids of requests queued to be sent again and not yet
	// taken by a pipe: one abandoned meanwhile is not sent (as NNG takes
	// it off its send queue), while a first send, already given to a
	// pipe, goes out.
	again  map[uint32]struct{}
	resend time.Duration
}

type reqCtx struct {
	s       *req
	id      uint32        // outstanding request id, 0 = none
	gen     uint64        // bumped by every Send; a receive sees only its own
	msg     *Message      // the request, held (a reference) for resend
	replyq  chan *Message // cap 1: the reply to the current request
	cancelq chan struct{} // cap 1: wakes a receive whose request was abandoned
	waiting int           // receives blocked on this context
	aw      waitList      // asynchronous receives waiting for the reply
	staged  chan struct{} // closed when the staged request is abandoned
	failErr error         // the request failed (its connection died); told to the next receive
	pipe    uint32        // the pipe that carried the request
	queued  bool          // the request waits in the send queue or backlog
	resendT time.Duration // this context's req:resend-time; see resendTime
	ownT    bool          // resendT was set on the context
	timer   *time.Timer   // resend timer, made once and reset per request
	closed  bool
	closeq  chan struct{}
}

func newReq(raw bool) *req {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoReq, Peer: mangos.ProtoRep, SelfName: "req", PeerName: "rep"}, raw, 0, raw)
	s := &req{cooked: cooked[*reqCtx]{engine: e}, byID: make(map[uint32]*reqCtx), again: make(map[uint32]struct{}), ctxs: make(map[*reqCtx]struct{}), resend: DefaultResendTime}
	s.cooked.newCtx = s.newCtx
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.nextID.Store(binary.BigEndian.Uint32(b[:]))
	if raw {
		e.onRecv = func(p *pipe, m *Message) {
			if splitBacktrace(m, 0, false, defaultTTL) {
				p.deliver(m)
			} else {
				e.dropped(DropBad)
			}
		}
	} else {
		e.onRecv = s.recvReply
		e.onSent = s.sent
		e.onRemove = s.pipeGone
		s.def = s.newCtx()
		e.ready.waiting = func() int { return len(s.def.replyq) }
	}
	return s
}

// Resender is implemented by req sockets and contexts.
type Resender interface {
	SetResendTime(d time.Duration)
	ResendTime() time.Duration
}

// sent records which pipe carries a request, and decides its fate: one
// abandoned while it waited to be resent is dropped; one taken by a pipe
// being removed goes to another (pipeGone, which takes s.mu too, either
// ran before and did not see it, or runs after and sees it recorded on
// its pipe: so one of the two sends it again, never both).
func (s *req) sent(p *pipe, m *Message) sending {
	if len(m.Header) < 4 {
		return sendIt
	}
	id := binary.BigEndian.Uint32(m.Header)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.byID[id]
	if p.dead.Load() && c != nil {
		c.queued = true // waiting to go again: the resend timer need not
		return requeueIt
	}
	_, resent := s.again[id]
	delete(s.again, id)
	if c == nil {
		if resent {
			return dropIt
		}
		return sendIt
	}
	c.pipe = p.id
	c.queued = false
	return sendIt
}

// pipeGone sends again, at once, every request the dead pipe carried, on
// the next pipe free (one connecting later included, as in NNG); or, for a
// context that does not resend, fails it with ErrConnReset.
func (s *req) pipeGone(p *pipe) {
	var (
		failed []*Waiter
		again  []*Message
	)
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		for _, m := range again {
			s.dropped(DropResent)
			s.requeue(m)
		}
		for _, ws := range failed {
			failAll(ws, &nanoact.Error{Code: nanoact.CodeConnReset, Op: "sockets: recv", Err: errConnDied})
		}
	}()
	closing := s.closing.Load()
	for _, c := range s.byID {
		if c.pipe != p.id {
			continue
		}
		c.pipe = 0
		if closing {
			continue // Close ends every request as closed
		}
		if c.msg != nil {
			if !c.queued {
				c.msg.Clone()
				c.queued = true
				s.again[c.id] = struct{}{}
				again = append(again, c.msg)
			}
			continue
		}
		ws := c.aw.takeIf(nil)
		c.abandon()
		if ws != nil {
			failed = append(failed, ws)
			if c.waiting == 0 {
				continue // told to the asynchronous receives
			}
		}
		c.failErr = &nanoact.Error{Code: nanoact.CodeConnReset, Op: "sockets: recv", Err: errConnDied}
		select {
		case c.cancelq <- struct{}{}:
		default:
		}
	}
}

type reqErr string

func (e reqErr) Error() string { return string(e) }

const (
	errConnDied = reqErr("the connection carrying the request closed")
	errReplaced = reqErr("the request was replaced by a newer one")
)

func (s *req) newCtx() *reqCtx {
	c := &reqCtx{s: s, closeq: make(chan struct{}), replyq: make(chan *Message, 1), cancelq: make(chan struct{}, 1)}
	s.mu.Lock()
	s.ctxs[c] = struct{}{}
	s.mu.Unlock()
	return c
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
	id, ok := takeWord(m)
	if !ok {
		s.dropped(DropBad)
		return
	}
	s.mu.Lock()
	c := s.byID[id]
	if c == nil {
		s.mu.Unlock()
		m.Free() // stale or duplicate reply
		s.dropped(DropStaleReply)
		return
	}
	delete(s.byID, id)
	c.stopTimer()
	c.id = 0
	c.releaseMsg()
	if w := c.aw.pop(); w != nil {
		s.mu.Unlock()
		s.complete(w, m)
		return
	}
	select {
	case c.replyq <- m: // under s.mu, so an abandon cannot interleave
		s.ready.notify()
	default:
		m.Free()
	}
	s.mu.Unlock()
}

func (s *req) Send(ctx context.Context, m *Message) error {
	if s.raw {
		return s.put(ctx, m, "sockets: send")
	}
	return s.def.Send(ctx, m)
}

// abandon drops c's outstanding request, or its reply not yet received,
// and wakes a receive waiting for it. It returns the asynchronous receives
// that were waiting, taken out of the context, for the caller to fail with
// ErrCanceled (failCanceled) once it has released s.mu. Call with s.mu
// held.
func (c *reqCtx) abandon() *Waiter {
	if c.id != 0 {
		delete(c.s.byID, c.id)
		c.id = 0
	}
	c.queued = false
	c.stopTimer()
	c.releaseMsg()
	if c.staged != nil {
		close(c.staged)
		c.staged = nil
	}
	select {
	case m := <-c.replyq:
		m.Free()
		c.s.ready.notify()
	default:
	}
	if c.waiting > 0 {
		select {
		case c.cancelq <- struct{}{}:
		default:
		}
	}
	return c.aw.takeIf(nil)
}

// failCanceled completes waiters taken by abandon.
func failCanceled(ws *Waiter) {
	if ws != nil {
		failAll(ws, &nanoact.Error{Code: nanoact.CodeCanceled, Op: "sockets: recv"})
	}
}

func (c *reqCtx) releaseMsg() {
	if c.msg != nil {
		c.msg.Free()
		c.msg = nil
	}
}

func (c *reqCtx) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// SetResendTime sets req:resend-time for this context's next requests.
func (c *reqCtx) SetResendTime(d time.Duration) {
	c.s.mu.Lock()
	c.resendT, c.ownT = d, true
	c.s.mu.Unlock()
}

// ResendTime returns this context's req:resend-time.
func (c *reqCtx) ResendTime() time.Duration {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.resendTime()
}

// resendTime returns the context's resend time, or the socket's. Call with
// s.mu held.
func (c *reqCtx) resendTime() time.Duration {
	if c.ownT {
		return c.resendT
	}
	return c.s.resend
}

func (c *reqCtx) Send(ctx context.Context, m *Message) error {
	id, resend, _, err := c.register(m, false)
	if err != nil {
		return err
	}
	return c.queue(ctx, m, id, resend, nil)
}

// Stage implements Stager: the request is registered now (a receive
// started next waits for its reply), queued by the function returned. A
// later request, or closing the context, cancels a queueing still waiting
// (ErrCanceled).
func (c *reqCtx) Stage(m *Message) (func(context.Context) error, error) {
	id, resend, cancel, err := c.register(m, true)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if IsNonBlock(ctx) {
			// A try: a miss keeps the request, for a blocking call next.
			if c.s.isClosed() {
				c.drop(id)
				return errClosed
			}
			if c.s.offer(m) {
				return c.armed(id, resend)
			}
			return waitErr(ctx, "sockets: send")
		}
		if ctx.Err() != nil {
			// Stopped before it started: the request is not sent.
			c.drop(id)
			return waitErr(ctx, "sockets: send")
		}
		return c.queue(ctx, m, id, resend, cancel)
	}, nil
}

// register makes m c's outstanding request, abandoning the previous one,
// and returns its id and resend time. staged makes (and returns) the
// channel that a later abandon closes, to cancel the queueing of m.
func (c *reqCtx) register(m *Message, staged bool) (id uint32, resend time.Duration, cancel chan struct{}, err error) {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return 0, 0, nil, errClosed
	}
	ws := c.abandon()
	c.failErr = nil
	c.gen++
	id = s.nextID.Add(1) | 0x80000000
	c.id = id
	m.Header = binary.BigEndian.AppendUint32(m.Header[:0], id)
	resend = c.resendTime()
	if resend > 0 {
		// Transports copy what they send, so a second reference is enough
		// to send the request again.
		m.Clone()
		c.msg = m
	}
	if staged {
		cancel = make(chan struct{})
		c.staged = cancel
	}
	s.byID[id] = c
	s.mu.Unlock()
	failCanceled(ws)
	return id, resend, cancel, nil
}

// queue puts the registered request m on the send queue, blocking as ctx
// allows, or until cancel (if not nil) is closed; then it arms the resend
// timer. On failure the request is abandoned.
func (c *reqCtx) queue(ctx context.Context, m *Message, id uint32, resend time.Duration, cancel chan struct{}) error {
	s := c.s
	var err error
	if cancel == nil {
		err = s.put(ctx, m, "sockets: send")
	} else {
		err = s.putUnless(ctx, cancel, m)
	}
	if err != nil {
		c.drop(id)
		return err
	}
	return c.armed(id, resend)
}

// armed arms the resend timer of request id, once it is on the send
// queue.
func (c *reqCtx) armed(id uint32, resend time.Duration) error {
	if resend <= 0 {
		return nil
	}
	s := c.s
	s.mu.Lock()
	if c.id == id {
		if c.timer == nil {
			c.timer = time.AfterFunc(resend, c.resend)
		} else {
			c.timer.Reset(resend)
		}
	}
	s.mu.Unlock()
	return nil
}

// drop abandons request id if it is still c's outstanding one.
func (c *reqCtx) drop(id uint32) {
	s := c.s
	var ws *Waiter
	s.mu.Lock()
	if c.id == id {
		ws = c.abandon()
	}
	s.mu.Unlock()
	failCanceled(ws)
}

// putUnless is put for a staged request: it also gives up, with
// ErrCanceled, once cancel is closed.
func (s *req) putUnless(ctx context.Context, cancel chan struct{}, m *Message) error {
	select {
	case <-cancel:
		return &nanoact.Error{Code: nanoact.CodeCanceled, Op: "sockets: send", Err: errReplaced}
	default:
	}
	return s.putUntil(ctx, m, cancel, &nanoact.Error{Code: nanoact.CodeCanceled, Op: "sockets: send", Err: errReplaced}, "sockets: send")
}

// resend sends the outstanding request again, on the next pipe free (it
// waits for one in the engine's backlog unless it already waits there),
// and re-arms the timer. It runs on the timer's goroutine.
func (c *reqCtx) resend() {
	s := c.s
	s.mu.Lock()
	if c.id == 0 || c.msg == nil || s.isClosed() {
		s.mu.Unlock()
		return
	}
	if d := c.resendTime(); d > 0 {
		c.timer.Reset(d)
	}
	if c.queued {
		s.mu.Unlock()
		return
	}
	c.queued = true
	s.again[c.id] = struct{}{}
	m := c.msg
	m.Clone()
	s.mu.Unlock()
	s.dropped(DropResent)
	s.requeue(m)
}

func (c *reqCtx) Recv(ctx context.Context) (*Message, error) {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	select {
	case m := <-c.replyq:
		s.mu.Unlock()
		s.ready.notify()
		return m, nil
	default:
	}
	if err := c.failErr; err != nil {
		c.failErr = nil
		s.mu.Unlock()
		return nil, err
	}
	if c.id == 0 {
		s.mu.Unlock()
		return nil, &nanoact.Error{Code: nanoact.CodeState, Op: "sockets: recv"}
	}
	if IsNonBlock(ctx) {
		// NNG keeps the request outstanding after a non-blocking miss.
		s.mu.Unlock()
		return nil, waitErr(ctx, "sockets: recv")
	}
	gen := c.gen
	c.waiting++
	select { // a stale wake-up from an earlier abandon
	case <-c.cancelq:
	default:
	}
	s.mu.Unlock()

	var (
		m   *Message
		err error
	)
	select {
	case m = <-c.replyq:
	case <-c.cancelq:
		err = &nanoact.Error{Code: nanoact.CodeCanceled, Op: "sockets: recv"}
	case <-c.closeq:
		err = errClosed
	case <-s.closeq:
		err = errClosed
	case <-ctx.Done():
		err = waitErr(ctx, "sockets: recv")
	}
	s.mu.Lock()
	c.waiting--
	if err != nil && c.closed {
		// Closing the context abandons its request too: the receive ends
		// as closed, whichever of the two wake-ups it saw first.
		s.mu.Unlock()
		return nil, errClosed
	}
	if err != nil && c.failErr != nil && c.gen == gen {
		err, c.failErr = c.failErr, nil
	}
	if m != nil && c.gen != gen {
		// The reply belongs to a newer request than this receive's.
		c.replyq <- m
		s.mu.Unlock()
		return nil, &nanoact.Error{Code: nanoact.CodeCanceled, Op: "sockets: recv"}
	}
	if m != nil {
		s.ready.notify()
	}
	var ws *Waiter
	if err != nil && ctx.Err() != nil && c.gen == gen {
		// As in NNG, a receive that times out or is cancelled aborts the
		// request: a late reply is dropped.
		ws = c.abandon()
	}
	s.mu.Unlock()
	failCanceled(ws)
	return m, err
}

// RecvAsync implements AsyncReceiver: the waiter gets the reply to the
// outstanding request, or fails as a blocking receive would.
func (c *reqCtx) RecvAsync(w *Waiter) {
	s := c.s
	s.mu.Lock()
	if c.closed || s.isClosed() {
		refuse(&s.mu, w, errClosed)
		return
	}
	if len(c.replyq) == 0 {
		if err := c.failErr; err != nil {
			c.failErr = nil
			refuse(&s.mu, w, err)
			return
		}
		if c.id == 0 {
			refuse(&s.mu, w, &nanoact.Error{Code: nanoact.CodeState, Op: "sockets: recv"})
			return
		}
	}
	s.takeOrQueue(&s.mu, c.replyq, &c.aw, w)
}

// CancelRecv implements AsyncReceiver. As in NNG, cancelling a receive
// (a time-out or a stop) abandons the request: a late reply is dropped.
func (c *reqCtx) CancelRecv(w *Waiter) bool {
	s := c.s
	s.mu.Lock()
	if !c.aw.remove(w) {
		s.mu.Unlock()
		return false
	}
	ws := c.abandon()
	s.mu.Unlock()
	failCanceled(ws)
	return true
}

func (c *reqCtx) Close() error {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return errClosed
	}
	c.closed = true
	close(c.closeq)
	ws := c.abandon()
	delete(s.ctxs, c)
	if c.timer != nil {
		c.timer.Stop()
	}
	s.mu.Unlock()
	failAll(ws, errClosed)
	return nil
}

// Close stops every timer, closes the socket, then fails the asynchronous
// receives still waiting (none can start once the socket is closed).
func (s *req) Close() error {
	s.mu.Lock()
	for _, c := range s.byID {
		c.stopTimer()
		c.releaseMsg()
	}
	s.mu.Unlock()
	err := s.engine.Close()
	closeWaiters(&s.mu, func(yield func(*waitList)) {
		for c := range s.ctxs {
			yield(&c.aw)
		}
	})
	return err
}
