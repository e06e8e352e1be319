package proto

import (
	"context"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

// ID names a scalability protocol.
type ID int

// The protocols, as nanonext names them.
const (
	Bus ID = iota + 1
	Pair
	Poly
	Push
	Pull
	Pub
	Sub
	Req
	Rep
	Surveyor
	Respondent
)

var names = [...]string{"", "bus", "pair", "poly", "push", "pull", "pub", "sub", "req", "rep", "surveyor", "respondent"}

// String returns the protocol's nanonext name, e.g. "req".
func (id ID) String() string {
	if id <= 0 || int(id) >= len(names) {
		return "unknown"
	}
	return names[id]
}

// Socket is one protocol instance: mangos' core drives its pipes through
// mangos.ProtocolBase, nanoact drives its data path through Send and Recv.
type Socket interface {
	mangos.ProtocolBase
	// Send queues m, taking ownership of it on success.
	Send(ctx context.Context, m *Message) error
	// Recv returns the next message.
	Recv(ctx context.Context) (*Message, error)
	// AsyncReceiver receives without a goroutine waiting.
	AsyncReceiver
	// NewContext opens an independent context; ErrNotSupported for
	// protocols without contexts.
	NewContext() (Context, error)
	// Raw reports raw mode.
	Raw() bool
	// Pipes returns the number of live pipes.
	Pipes() int
	// Pipe returns the live pipe with id, or nil.
	Pipe(id uint32) mangos.ProtocolPipe
	// Done is closed once the socket is closed.
	Done() <-chan struct{}
	// Counters returns message statistics.
	Counters() Counters
	// PipeCounters returns one live pipe's message statistics.
	PipeCounters(id uint32) (Counters, bool)
	// SetRefuse names pipes AddPipe must leave out (a pipe veto).
	SetRefuse(fn func(mp mangos.ProtocolPipe) bool)
	// Flushed reports whether everything queued for sending was written.
	Flushed() bool
	// BeginClose says the socket is about to close: pipes removed from
	// now on end their requests as closed, not as connections reset.
	BeginClose()
}

// Context is an independent protocol state machine sharing its socket's
// pipes.
type Context interface {
	Send(ctx context.Context, m *Message) error
	Recv(ctx context.Context) (*Message, error)
	AsyncReceiver
	Close() error
}

// Subscriber is implemented by sub sockets and contexts.
type Subscriber interface {
	Subscribe(topic []byte) error
	Unsubscribe(topic []byte) error
}

// SurveyTimer is implemented by surveyor sockets and contexts.
type SurveyTimer interface {
	SetSurveyTime(d time.Duration)
	SurveyTime() time.Duration
}

// Stager is implemented by the protocols whose send changes their state:
// req (it registers the request) and rep and respondent (the reply takes
// the request it answers). Stage makes that change for m at once and
// returns a function that queues m, blocking as Send does; so a send that
// has to wait can change the state in program order, as NNG's
// nng_send_aio does, and queue on another goroutine. The function fails
// with ErrTryAgain for a NonBlock ctx, keeping the staged state, and may
// then be called again; after any other outcome it must not be. Called
// with an ended ctx it gives the send up at once (a req abandons its
// request). Until it has succeeded, m stays the caller's.
type Stager interface {
	Stage(m *Message) (queue func(ctx context.Context) error, err error)
}

// New opens a protocol instance. raw selects the raw variant.
func New(id ID, raw bool) (Socket, error) {
	switch id {
	case Bus:
		return newBus(raw), nil
	case Pair:
		return newPair(raw), nil
	case Poly:
		return newPoly(raw), nil
	case Push:
		return newPush(raw), nil
	case Pull:
		return newPull(raw), nil
	case Pub:
		return newPub(raw), nil
	case Sub:
		return newSub(raw), nil
	case Req:
		return newReq(raw), nil
	case Rep:
		return newReplier(raw, mangos.ProtocolInfo{Self: mangos.ProtoRep, Peer: mangos.ProtoReq, SelfName: "rep", PeerName: "req"}), nil
	case Surveyor:
		return newSurveyor(raw), nil
	case Respondent:
		return newReplier(raw, mangos.ProtocolInfo{Self: mangos.ProtoRespondent, Peer: mangos.ProtoSurveyor, SelfName: "respondent", PeerName: "surveyor"}), nil
	}
	return nil, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: open protocol"}
}

var (
	errNotSupported = nanoact.ErrNotSupported
	errState        = nanoact.ErrState
)

// noContexts is embedded by protocols without contexts.
type noContexts struct{}

func (noContexts) NewContext() (Context, error) { return nil, errNotSupported }

// sendOnly is embedded by protocols that cannot receive.
type sendOnly struct{}

func (sendOnly) Recv(context.Context) (*Message, error) { return nil, errNotSupported }

// recvOnly is embedded by protocols that cannot send.
type recvOnly struct{}

func (recvOnly) Send(context.Context, *Message) error { return errNotSupported }

// cooked is embedded by protocols with contexts (req, rep, surveyor,
// respondent): the socket's own receive and context opening go to its
// default context, or, in raw mode, straight to the engine's queue.
type cooked[C Context] struct {
	*engine
	def    C
	newCtx func() C
}

func (s *cooked[C]) Recv(ctx context.Context) (*Message, error) {
	if s.raw {
		return s.get(ctx, s.recvq, nil, "sockets: recv")
	}
	return s.def.Recv(ctx)
}

// RecvAsync implements AsyncReceiver: in raw mode on the engine's queue,
// otherwise on the default context.
func (s *cooked[C]) RecvAsync(w *Waiter) {
	if s.raw {
		s.engine.RecvAsync(w)
		return
	}
	s.def.RecvAsync(w)
}

// CancelRecv implements AsyncReceiver.
func (s *cooked[C]) CancelRecv(w *Waiter) bool {
	if s.raw {
		return s.engine.CancelRecv(w)
	}
	return s.def.CancelRecv(w)
}

// Stage implements Stager on the default context of req, rep and
// respondent sockets; raw sockets and surveyors have no state to stage.
func (s *cooked[C]) Stage(m *Message) (func(context.Context) error, error) {
	if st, ok := any(s.def).(Stager); ok && !s.raw {
		return st.Stage(m)
	}
	return nil, errNotSupported
}

func (s *cooked[C]) NewContext() (Context, error) {
	if s.raw {
		return nil, errNotSupported
	}
	if s.isClosed() {
		return nil, errClosed
	}
	return s.newCtx(), nil
}
