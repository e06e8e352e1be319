package sockets

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/cv"
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/proto"
)

// Context is an independent protocol state machine on its socket's
// connections: its own request and reply (req, rep), its own survey
// (surveyor, respondent), its own subscriptions (sub). Many contexts on one
// socket let many goroutines run request/reply exchanges at once, each
// reply reaching the context that asked.
//
// A Context is not an actor (see the package doc): its state machine is
// the protocol's, reached directly. Its socket supervises it: closing the
// socket closes it, and the socket's Supervise signals are raised when it
// closes. It is safe for concurrent use; it must be Closed when no longer
// needed, or it lives as long as its socket.
type Context struct {
	id    uint32
	s     *Socket
	pc    proto.Context
	codec Codec
	mode  Mode // the default send mode, the socket's

	sendTimeout atomic.Int64 // ns; negative = none
	recvTimeout atomic.Int64

	mu     sync.Mutex
	closed bool
	sendq  SendQueue // aio sends waiting their turn (sendq.go)
}

// contextIDs numbers contexts, as NNG's nng_ctx_id: unique in the process.
var contextIDs atomic.Uint32

// contextSet is a socket's open contexts: the supervision a child actor
// per context used to give, without the actor. The socket closes them all
// when it closes (closeAll); a context leaves the set when it closes.
type contextSet struct {
	mu     sync.Mutex
	open   map[*Context]struct{}
	closed bool // set by closeAll: no context joins after it
}

// add puts c in the set; false once the socket has closed its contexts.
func (cs *contextSet) add(c *Context) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return false
	}
	if cs.open == nil {
		cs.open = make(map[*Context]struct{})
	}
	cs.open[c] = struct{}{}
	return true
}

func (cs *contextSet) remove(c *Context) {
	cs.mu.Lock()
	delete(cs.open, c)
	cs.mu.Unlock()
}

// closeAll closes every open context, each raising the socket's supervise
// signals as a closed context does, and refuses new ones. The socket's
// Close calls it once its engine and pipes are down.
func (cs *contextSet) closeAll() {
	cs.mu.Lock()
	cs.closed = true
	open := cs.open
	cs.open = nil
	cs.mu.Unlock()
	for c := range open {
		c.closeOnce()
	}
}

// Context opens a new context (nanonext's context()). Only req, rep, sub,
// surveyor and respondent sockets have contexts; others, and raw sockets,
// give ErrNotSupported. The context uses the socket's codec as it is now
// (a later SetCodec does not reach it: nanonext's serial_config rule) and,
// for surveyors, the socket's survey time as it is now.
//
// It costs no actor and no goroutine: with Close, about 3 µs and 8
// allocations (BenchmarkContext).
func (s *Socket) Context() (*Context, error) {
	const op = "sockets: open context"
	if s.isClosed() {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	switch s.proto {
	case Req, Rep, Sub, Surveyor, Respondent:
	default:
		return nil, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: op, Err: fmt.Errorf("%s sockets have no contexts", s.proto)}
	}
	pc, err := s.eng.NewContext()
	if err != nil {
		return nil, nngerr.Wrap(err, op)
	}
	c := &Context{id: contextIDs.Add(1), s: s, pc: pc, codec: s.Codec(), mode: s.cfg.sendMode}
	c.sendTimeout.Store(s.sendTimeout.Load())
	c.recvTimeout.Store(s.recvTimeout.Load())
	if !s.ctxs.add(c) {
		_ = pc.Close()
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	return c, nil
}

// ID returns the context's id (NNG's nng_ctx_id): positive and unique
// among the contexts of the process, and kept after Close. It never
// blocks.
func (c *Context) ID() uint32 { return c.id }

// Socket returns the context's socket.
func (c *Context) Socket() *Socket { return c.s }

// Codec returns the codec the context uses in Serial mode.
func (c *Context) Codec() Codec { return c.codec }

// SendMode returns the mode of a Send given no Mode: its socket's (see
// WithSendMode).
func (c *Context) SendMode() Mode { return c.mode }

func (c *Context) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// closeOnce closes the protocol context and tells the socket's supervisor
// broadcast (Stopped), once; false if the context was already closed.
func (c *Context) closeOnce() bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	c.mu.Unlock()
	// Unlocked: closing completes the context's asynchronous receives,
	// whose callbacks may use the context.
	_ = c.pc.Close()
	c.s.sup.Broadcast(cv.Event{Kind: cv.Stopped, Child: fmt.Sprintf("context %d", c.id)})
	return true
}

// Close closes the context: a receive waiting on it ends with ErrClosed.
// A second Close, or a Close after the socket's, returns ErrClosed. It does
// not block beyond completing the context's waiting receives.
func (c *Context) Close() error {
	if !c.closeOnce() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: close context"}
	}
	c.s.ctxs.remove(c)
	return nil
}

// Send encodes v and sends it on the context, as Socket.Send does (modes,
// blocking). ToPipe is not supported on contexts.
func (c *Context) Send(ctx context.Context, v any, opts ...SendOption) error {
	sc := sendConfig{mode: c.mode}
	for _, o := range opts {
		o.applySend(&sc)
	}
	if sc.pipe != 0 {
		return &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: send", Err: fmt.Errorf("contexts cannot send to a chosen pipe")}
	}
	m, err := encode(v, sc.mode, c.codec)
	if err != nil {
		return err
	}
	if err := c.send(ctx, m); err != nil {
		m.Free()
		return err
	}
	return nil
}

// SendMsg sends m on the context, taking ownership of it on success; on
// failure m is left to the caller. As with Socket.SendMsg, a successful
// send takes only m's buffers: the caller may then Free or reuse m.
func (c *Context) SendMsg(ctx context.Context, m *Msg) error {
	mm := m.mangosMsg()
	if err := c.send(ctx, mm); err != nil {
		m.Header, m.Body, m.m = mm.Header, mm.Body, mm
		return err
	}
	return nil
}

func (c *Context) send(ctx context.Context, m *proto.Message) error {
	if c.isClosed() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: send"}
	}
	ctx, cancel := c.s.withTimeout(ctx, &c.sendTimeout)
	defer cancel()
	return nngerr.Wrap(c.pc.Send(ctx, m), "sockets: send")
}

// Recv receives one message on the context, as Socket.Recv does.
func (c *Context) Recv(ctx context.Context) (*Msg, error) { return c.RecvMsg(ctx) }

// RecvMsg is Recv; it makes Context a Conn.
func (c *Context) RecvMsg(ctx context.Context) (*Msg, error) {
	if c.isClosed() {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: recv"}
	}
	ctx, cancel := c.s.withTimeout(ctx, &c.recvTimeout)
	defer cancel()
	m, err := c.pc.Recv(ctx)
	if err != nil {
		return nil, nngerr.Wrap(err, "sockets: recv")
	}
	return wrapMsg(m), nil
}

// RecvMode receives one message and decodes it by a nanonext mode.
func (c *Context) RecvMode(ctx context.Context, mode Mode) (any, error) {
	m, err := c.RecvMsg(ctx)
	if err != nil {
		return nil, err
	}
	return DecodeMode(m, mode, c.codec)
}

// Subscribe adds a topic to a sub context's own subscriptions (see
// Socket.Subscribe, and its note on Raw mode: a serial payload never
// matches a topic).
func (c *Context) Subscribe(topic any) error { return c.subscription(topic, true) }

// Unsubscribe removes a topic from a sub context; ErrNotFound if absent.
func (c *Context) Unsubscribe(topic any) error { return c.subscription(topic, false) }

func (c *Context) subscription(topic any, add bool) error {
	if c.isClosed() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: subscribe"}
	}
	return subscribe(c.pc, topic, add)
}

// SetSurveyTime sets the survey time of a surveyor context's next surveys.
func (c *Context) SetSurveyTime(d time.Duration) error {
	st, ok := c.pc.(proto.SurveyTimer)
	if !ok {
		return &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: survey time"}
	}
	st.SetSurveyTime(d)
	return nil
}

// String describes the context as nanonext prints it.
func (c *Context) String() string {
	state := "opened"
	if c.isClosed() {
		state = "closed"
	}
	return fmt.Sprintf("< nanoContext >\n - id: %d\n - socket: %d\n - state: %s\n - protocol: %s\n", c.id, c.s.id, state, c.s.proto)
}

// subscribe adds or removes a topic on a sub socket or context.
func subscribe(target any, topic any, add bool) error {
	op := "sockets: subscribe"
	if !add {
		op = "sockets: unsubscribe"
	}
	sub, ok := target.(proto.Subscriber)
	if !ok {
		return &nanoact.Error{Code: nanoact.CodeNotSupported, Op: op}
	}
	t, err := codec.Topic(topic)
	if err != nil {
		return nngerr.Wrap(err, op)
	}
	if add {
		err = sub.Subscribe(t)
	} else {
		err = sub.Unsubscribe(t)
	}
	return nngerr.Wrap(err, op)
}
