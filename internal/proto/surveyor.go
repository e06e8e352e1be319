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

// DefaultSurveyTime is surveyor:survey-time's default, as NNG's.
const DefaultSurveyTime = time.Second

// surveyor: a survey goes to every respondent with a 4-byte survey id;
// answers carrying that id are received until the survey time runs out.
// When it does, a waiting receive ends ErrTimedOut, answers not yet
// received are dropped, and later receives get ErrState until the next
// survey. A new survey cancels the previous one: a receive waiting on it
// ends ErrCanceled.
type surveyor struct {
	cooked[*surveyCtx]
	mu     sync.Mutex
	nextID atomic.Uint32
	byID   map[uint32]*surveyCtx
	dur    time.Duration
}

type surveyCtx struct {
	s       *surveyor
	id      uint32
	answers chan *Message
	aw      waitList      // asynchronous receives waiting for an answer
	expired chan struct{} // closed when the survey time runs out
	cancel  chan struct{} // closed when a newer survey replaces this one
	timer   *time.Timer
	dur     time.Duration
	closed  bool
	closeq  chan struct{}
	ans     atomic.Pointer[chan *Message] // answers, for readiness
}

func newSurveyor(raw bool) *surveyor {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoSurveyor, Peer: mangos.ProtoRespondent, SelfName: "surveyor", PeerName: "respondent"}, raw, -1, raw)
	s := &surveyor{cooked: cooked[*surveyCtx]{engine: e}, byID: make(map[uint32]*surveyCtx), dur: DefaultSurveyTime}
	s.cooked.newCtx = s.newCtx
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.nextID.Store(binary.BigEndian.Uint32(b[:]))
	if raw {
		e.onRecv = func(p *pipe, m *Message) {
			id, ok := takeWord(m)
			if !ok {
				e.dropped(DropBad)
				return
			}
			m.Header = putID(m.Header[:0], id)
			p.deliver(m)
		}
	} else {
		e.onRecv = s.recvAnswer
		s.def = s.newCtx()
		e.ready.waiting = func() int {
			if q := s.def.ans.Load(); q != nil {
				return len(*q)
			}
			return 0
		}
	}
	return s
}

func (s *surveyor) newCtx() *surveyCtx {
	s.mu.Lock()
	d := s.dur
	s.mu.Unlock()
	return &surveyCtx{s: s, closeq: make(chan struct{}), dur: d}
}

func (s *surveyor) recvAnswer(_ *pipe, m *Message) {
	id, ok := takeWord(m)
	if !ok {
		s.dropped(DropBad)
		return
	}
	s.mu.Lock()
	c := s.byID[id]
	if c == nil {
		s.mu.Unlock()
		m.Free() // late answer to a survey that is over
		s.dropped(DropLateAnswer)
		return
	}
	if w := c.aw.pop(); w != nil {
		s.mu.Unlock()
		s.complete(w, m)
		return
	}
	select {
	case c.answers <- m:
	default:
		m.Free() // queue full: best effort
		s.dropped(DropRecvFull)
	}
	s.mu.Unlock()
	s.ready.notify()
}

// SetSurveyTime sets surveyor:survey-time for surveys started from now on,
// on the socket and on contexts opened later; zero or negative means the
// survey never expires.
func (s *surveyor) SetSurveyTime(d time.Duration) {
	s.mu.Lock()
	s.dur = d
	if s.def != nil {
		s.def.dur = d
	}
	s.mu.Unlock()
}

// SurveyTime returns surveyor:survey-time.
func (s *surveyor) SurveyTime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dur
}

func (s *surveyor) Send(ctx context.Context, m *Message) error {
	if s.raw {
		if s.isClosed() {
			return errClosed
		}
		s.broadcast(m, 0, false)
		return nil
	}
	return s.def.Send(ctx, m)
}

// end finishes c's survey. It returns the asynchronous receives that
// were waiting, taken out of the context, for the caller to fail (see
// failSurvey) once it has released s.mu. Call with s.mu held.
func (c *surveyCtx) end(cancel bool) *Waiter {
	if c.id == 0 {
		return nil
	}
	delete(c.s.byID, c.id)
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if cancel {
		close(c.cancel)
	} else {
		close(c.expired)
	}
	for len(c.answers) > 0 {
		(<-c.answers).Free()
	}
	c.id = 0
	c.ans.Store(nil)
	c.s.ready.notify()
	return c.aw.takeIf(nil)
}

// failSurvey completes waiters taken by end: ErrCanceled for a survey
// replaced by a newer one, ErrTimedOut for one whose time ran out.
func failSurvey(ws *Waiter, cancel bool) {
	if ws == nil {
		return
	}
	if cancel {
		failAll(ws, &nanoact.Error{Code: nanoact.CodeCanceled, Op: "sockets: recv", Err: errSurveyReplaced})
		return
	}
	failAll(ws, &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "sockets: recv", Err: errSurveyOver})
}

// SetSurveyTime sets the survey time of this context's next surveys.
func (c *surveyCtx) SetSurveyTime(d time.Duration) {
	c.s.mu.Lock()
	c.dur = d
	c.s.mu.Unlock()
}

// SurveyTime returns the survey time of this context.
func (c *surveyCtx) SurveyTime() time.Duration {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.dur
}

func (c *surveyCtx) Send(ctx context.Context, m *Message) error {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return errClosed
	}
	if s.isClosed() {
		s.mu.Unlock()
		return errClosed
	}
	ws := c.end(true)
	id := s.nextID.Add(1) | 0x80000000
	c.id = id
	answers := make(chan *Message, defaultRecvBuffer)
	c.answers = answers
	c.ans.Store(&answers)
	c.expired = make(chan struct{})
	c.cancel = make(chan struct{})
	s.byID[id] = c
	if c.dur > 0 {
		c.timer = time.AfterFunc(c.dur, func() {
			var ws *Waiter
			s.mu.Lock()
			if c.id == id {
				ws = c.end(false)
			}
			s.mu.Unlock()
			failSurvey(ws, false)
		})
	}
	s.mu.Unlock()
	failSurvey(ws, true)
	m.Header = binary.BigEndian.AppendUint32(m.Header[:0], id)
	s.broadcast(m, 0, false)
	return nil
}

func (c *surveyCtx) Recv(ctx context.Context) (*Message, error) {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	if c.id == 0 {
		s.mu.Unlock()
		return nil, &nanoact.Error{Code: nanoact.CodeState, Op: "sockets: recv"}
	}
	q, expired, cancel := c.answers, c.expired, c.cancel
	s.mu.Unlock()
	select {
	case m := <-q:
		s.ready.notify()
		return m, nil
	default:
	}
	if IsNonBlock(ctx) {
		return nil, waitErr(ctx, "sockets: recv")
	}
	select {
	case m := <-q:
		s.ready.notify()
		return m, nil
	case <-expired:
		if c.closedNow() {
			return nil, errClosed
		}
		return nil, &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "sockets: recv", Err: errSurveyOver}
	case <-cancel:
		if c.closedNow() {
			return nil, errClosed // closing the context ends its survey too
		}
		return nil, &nanoact.Error{Code: nanoact.CodeCanceled, Op: "sockets: recv", Err: errSurveyReplaced}
	case <-c.closeq:
		return nil, errClosed
	case <-s.closeq:
		return nil, errClosed
	case <-ctx.Done():
		return nil, waitErr(ctx, "sockets: recv")
	}
}

type surveyErr string

func (e surveyErr) Error() string { return string(e) }

const (
	errSurveyOver     = surveyErr("survey time expired")
	errSurveyReplaced = surveyErr("survey replaced by a newer one")
)

// RecvAsync implements AsyncReceiver: the waiter gets the next answer to
// the survey running, or fails as a blocking receive would.
func (c *surveyCtx) RecvAsync(w *Waiter) {
	s := c.s
	s.mu.Lock()
	switch {
	case c.closed || s.isClosed():
		refuse(&s.mu, w, errClosed)
	case c.id == 0:
		refuse(&s.mu, w, &nanoact.Error{Code: nanoact.CodeState, Op: "sockets: recv"})
	default:
		s.takeOrQueue(&s.mu, c.answers, &c.aw, w)
	}
}

// closedNow reports whether c is closed.
func (c *surveyCtx) closedNow() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.closed
}

// CancelRecv implements AsyncReceiver.
func (c *surveyCtx) CancelRecv(w *Waiter) bool { return cancelIn(&c.s.mu, &c.aw, w) }

func (c *surveyCtx) Close() error {
	s := c.s
	s.mu.Lock()
	if c.closed {
		s.mu.Unlock()
		return errClosed
	}
	c.closed = true
	ws := c.aw.takeIf(nil)
	c.end(true) // no waiter left to fail
	close(c.closeq)
	s.mu.Unlock()
	failAll(ws, errClosed)
	return nil
}

// Close stops every survey timer, closes the socket, then fails the
// asynchronous receives still waiting (none can start once the socket is
// closed, and only a context with a survey running has any).
func (s *surveyor) Close() error {
	s.mu.Lock()
	for _, c := range s.byID {
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	s.mu.Unlock()
	err := s.engine.Close()
	closeWaiters(&s.mu, func(yield func(*waitList)) {
		for _, c := range s.byID {
			yield(&c.aw)
		}
	})
	return err
}
