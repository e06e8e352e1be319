package sockets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/cv"
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/msgpool"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/proto"
	"github.com/nanoact/nanoact/internal/transport"
)

// socketIDs numbers sockets for logs and String, as NNG's socket ids.
var socketIDs atomic.Uint32

// Socket is an NNG socket of one protocol. Its control plane (dial, listen,
// start, close, pipe events) runs through its actor's mailbox, one at a
// time; its data plane (Send, Recv) goes straight to the protocol engine,
// so concurrent senders and receivers do not queue behind each other.
//
// A Socket is safe for concurrent use. It must be Closed.
type Socket struct {
	id    uint32
	proto Protocol
	cfg   config
	log   *zap.Logger
	eng   proto.Socket
	ms    mangos.Socket
	ref   *actor.Ref
	pipes *pipeTracker
	// life ends when the socket closes; dials in progress watch it.
	life     context.Context
	lifeStop context.CancelFunc

	mu        sync.Mutex
	closed    atomic.Bool // set once, under mu; read without it on the data path
	dialers   []*Dialer
	listeners []*Listener

	name        atomic.Pointer[string]
	codecMu     sync.Mutex
	sendTimeout atomic.Int64 // send-timeout in ns; negative = none
	recvTimeout atomic.Int64 // recv-timeout in ns; negative = none
	oversize    atomic.Int64
	rejects     atomic.Int64
	sup         cv.Broadcaster // the socket's supervisor broadcast (Supervise)
	sendq       SendQueue      // aio sends waiting their turn (sendq.go)
	ctxs        contextSet     // open contexts, closed with the socket (context.go)
	vetoes      vetoSet        // the pipe veto, if any (veto.go)
}

// Supervise registers c with the socket's supervisor broadcast, so that a
// goroutine waiting on c wakes instead of hanging: c is told of each
// event as a cv.Event. A context that closes (closing the socket closes
// them all) is Stopped, a plain signal; a control operation (Dial, Listen,
// Close, ...) that panicked is Failed: c's flag is raised, so Wait returns
// false, and c.Err gives the cause. When the socket has closed, c gets
// Closed (a plain signal), at once if it registers later. unregister
// removes c (idempotent). It never blocks and costs nothing until an
// event.
func (s *Socket) Supervise(c *cv.CV) (unregister func()) { return s.sup.Register(c) }

// New opens a socket for protocol p. It costs one actor spawn (a few µs)
// and no goroutine until a connection exists; each connection then costs
// two goroutines. Dial and Listen options start endpoints at once; if one
// fails, New closes the socket and returns the error.
//
// Errors: ErrNotSupported for an unknown protocol, and those of Dial and
// Listen.
func New(p Protocol, opts ...Option) (*Socket, error) {
	if !p.valid() {
		return nil, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: open", Err: fmt.Errorf("unknown protocol %d", int(p))}
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.sendMode != Serial && cfg.sendMode != Raw {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, "sockets: open", "send mode %s: want serial or raw", cfg.sendMode)
	}
	transport.Register()
	eng, err := proto.New(proto.ID(p), cfg.raw)
	if err != nil {
		return nil, err
	}
	s := &Socket{
		id:    socketIDs.Add(1),
		proto: p,
		cfg:   cfg,
		eng:   eng,
		ms:    protocol.MakeSocket(eng),
	}
	s.life, s.lifeStop = context.WithCancel(context.Background())
	s.sendTimeout.Store(-1)
	s.recvTimeout.Store(-1)
	s.log = cfg.logger.Named("sockets").With(zap.Uint32("socket", s.id), zap.String("proto", p.String()))
	s.pipes = newPipeTracker(s)
	s.vetoes.init(s, cfg.veto)
	_ = s.ms.SetOption(mangos.OptionMaxRecvSize, cfg.recvMax)
	_ = s.ms.SetOption(mangos.OptionReconnectTime, cfg.reconnMin)
	_ = s.ms.SetOption(mangos.OptionMaxReconnectTime, cfg.reconnMax)
	s.ms.SetPipeEventHook(s.pipes.hook)

	sys := cfg.system
	if sys == nil {
		sys = actor.Default()
	}
	s.ref, err = sys.Spawn("", &socketActor{s: s})
	if err != nil {
		s.lifeStop()
		_ = s.ms.Close()
		return nil, nngerr.Wrap(err, "sockets: open")
	}
	for _, l := range cfg.listens {
		if _, err := s.Listen(l.url, l.opts...); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	for _, d := range cfg.dials {
		if _, err := s.Dial(d.url, d.opts...); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ID returns the socket's id, unique in the process.
func (s *Socket) ID() uint32 { return s.id }

// Protocol returns the socket's protocol.
func (s *Socket) Protocol() Protocol { return s.proto }

// Raw reports whether the socket is in raw mode.
func (s *Socket) Raw() bool { return s.cfg.raw }

// SendMode returns the mode of a Send given no Mode (see WithSendMode).
func (s *Socket) SendMode() Mode { return s.cfg.sendMode }

// Codec returns the codec used in Serial mode.
func (s *Socket) Codec() Codec {
	s.codecMu.Lock()
	defer s.codecMu.Unlock()
	return s.cfg.codec
}

// SetCodec replaces the codec of Serial mode for the socket and for
// contexts opened afterwards; contexts already open keep theirs (nanonext's
// serial_config rule). nil restores CBOR. Build codecs with custom type
// hooks with Hooks.
func (s *Socket) SetCodec(cd Codec) {
	if cd == nil {
		cd = codec.CBOR()
	}
	s.codecMu.Lock()
	s.cfg.codec = cd
	s.codecMu.Unlock()
}

// withTimeout applies the socket's send-timeout or recv-timeout option to
// a blocking ctx without deadline (nanonext's block = TRUE).
func (s *Socket) withTimeout(ctx context.Context, opt *atomic.Int64) (context.Context, context.CancelFunc) {
	d := opt.Load()
	if d < 0 || proto.IsNonBlock(ctx) {
		return ctx, func() {}
	}
	if v, _ := ctx.Value(noTimeoutKey{}).(bool); v {
		return ctx, func() {}
	}
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, time.Duration(d))
}

// Done returns a channel closed when the socket is closed.
func (s *Socket) Done() <-chan struct{} { return s.eng.Done() }

// String describes the socket as nanonext prints it.
func (s *Socket) String() string {
	var b strings.Builder
	state := "opened"
	if s.closed.Load() {
		state = "closed"
	}
	s.mu.Lock()
	fmt.Fprintf(&b, "< nanoSocket >\n - id: %d\n - state: %s\n - protocol: %s\n", s.id, state, s.proto)
	if len(s.listeners) > 0 {
		b.WriteString(" - listener:\n")
		for _, l := range s.listeners {
			fmt.Fprintf(&b, "    %s\n", l.url)
		}
	}
	if len(s.dialers) > 0 {
		b.WriteString(" - dialer:\n")
		for _, d := range s.dialers {
			fmt.Fprintf(&b, "    %s\n", d.url)
		}
	}
	s.mu.Unlock()
	return b.String()
}

// control runs fn in the socket actor's mailbox and waits for it. A panic
// in fn is a bug, not a closed socket: it is recovered here, logged at
// Error with its stack, and returned as ErrInternal, and the actor goes on
// serving the socket (it is not restarted, so its state is kept). Only an
// actor that has stopped, which happens when the socket closes, gives
// ErrClosed.
func (s *Socket) control(op string, fn func() error) error {
	var err error
	cerr := s.ref.Call(context.Background(), func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("control function panicked", zap.String("op", op), zap.Any("panic", r), zap.Stack("stack"))
				err = &nanoact.Error{Code: nanoact.CodeInternal, Op: op, Err: fmt.Errorf("panic: %v", r)}
				s.sup.Broadcast(cv.Event{Kind: cv.Failed, Child: op, Err: err})
			}
		}()
		err = fn()
	})
	switch {
	case cerr == nil:
		return err
	case errors.Is(cerr, nanoact.ErrClosed):
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	return &nanoact.Error{Code: nanoact.CodeInternal, Op: op, Err: cerr}
}

// Close closes the socket: its listeners, then its dialers, then every
// connection, as NNG does. It aborts pending sends and receives with
// ErrClosed and returns once every goroutine the socket started has exited
// (bounded: connections are closed, not drained; queued messages are
// dropped, as NNG has no linger). A second Close returns ErrClosed.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: close"}
	}
	s.closed.Store(true)
	s.mu.Unlock()
	s.eng.BeginClose() // the pipes closed below are the socket closing

	err := s.control("sockets: close", func() error {
		// Read in the mailbox, after any Dial or Listen queued before.
		s.mu.Lock()
		ls, ds := s.listeners, s.dialers
		s.mu.Unlock()
		for _, l := range ls {
			l.close()
		}
		for _, d := range ds {
			d.close()
		}
		return nil
	})
	s.lifeStop()     // ends dials still in their handshake
	_ = s.ms.Close() // closes the engine: every pipe, waiting for its goroutines
	s.pipes.wait()
	_ = s.ref.Stop(context.Background())
	s.ctxs.closeAll()     // its contexts, now the engine is down
	s.pipes.queue.close() // after the actor: it queues no more events
	_ = s.sup.Close()     // after the contexts' Stopped events
	s.log.Debug("socket closed")
	return err
}

func (s *Socket) isClosed() bool { return s.closed.Load() }

// Send encodes v and sends it. The mode is the socket's send mode, Serial
// by default (the socket's Codec, the payload starting with the serial
// marker; see WithSendMode); pass Raw for bytes, strings (each sent with
// one trailing NUL, as nanonext's character vectors), and numeric slices
// (little-endian). A *Msg
// is sent as it is, header included (raw-mode sockets). ToPipe directs the
// send on poly and bus sockets.
//
// Blocking follows ctx as the package doc describes: NonBlock(ctx) fails
// with ErrTryAgain when the message cannot be queued at once, a deadline
// fails with ErrTimedOut. Send copies v; the caller may reuse it at once.
// pub, bus and surveyor sends never block: with no peer ready the message
// is dropped and Send succeeds, as in NNG.
//
// Errors: ErrNotSupported (pull, sub), ErrState (rep or respondent with no
// request to answer), ErrClosed, ErrBadType (a value Raw cannot encode),
// ErrTryAgain, ErrTimedOut.
func (s *Socket) Send(ctx context.Context, v any, opts ...SendOption) error {
	sc := sendConfig{mode: s.cfg.sendMode}
	for _, o := range opts {
		switch o := o.(type) {
		case toPipe: // the usual option, without moving sc to the heap
			sc.pipe = uint32(o)
		default:
			c := sc
			o.applySend(&c)
			sc = c
		}
	}
	m, err := encode(v, sc.mode, s.Codec())
	if err != nil {
		return err
	}
	if err := s.send(ctx, m, sc.pipe); err != nil {
		m.Free()
		return err
	}
	return nil
}

// SendMsg sends m as it is (header and body), taking ownership of it on
// success; on failure m is left to the caller. It blocks as Send does.
// A successful send takes only m's buffers: the caller may then Free m
// (returning the empty wrapper to the pool, saving an allocation) or
// reuse it.
func (s *Socket) SendMsg(ctx context.Context, m *Msg) error {
	mm := m.mangosMsg()
	if err := s.send(ctx, mm, 0); err != nil {
		m.Header, m.Body, m.m = mm.Header, mm.Body, mm
		return err
	}
	return nil
}

func (s *Socket) send(ctx context.Context, m *mangos.Message, pipe uint32) error {
	if s.isClosed() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: send"}
	}
	if !s.proto.canSend() {
		return &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: send", Err: fmt.Errorf("%s sockets cannot send", s.proto)}
	}
	ctx, cancel := s.withTimeout(ctx, &s.sendTimeout)
	defer cancel()
	var err error
	if pipe != 0 {
		ds, ok := s.eng.(proto.DirectSender)
		if !ok {
			return &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: send", Err: fmt.Errorf("%s sockets cannot send to a chosen pipe", s.proto)}
		}
		err = ds.SendTo(ctx, pipe, m)
	} else {
		err = s.eng.Send(ctx, m)
	}
	if err != nil {
		return nngerr.Wrap(err, "sockets: send")
	}
	return nil
}

// Recv receives one message. It blocks as the package doc describes:
// NonBlock(ctx) fails with ErrTryAgain when no message is waiting, a
// deadline with ErrTimedOut. Decode the body with Decode or use RecvAs.
//
// Errors: ErrNotSupported (push, pub), ErrState (req with no request
// outstanding, surveyor with no survey running), ErrTimedOut (also when a
// survey's time runs out), ErrCanceled (a req or surveyor receive whose
// request or survey was replaced), ErrClosed, ErrTryAgain.
func (s *Socket) Recv(ctx context.Context) (*Msg, error) { return s.RecvMsg(ctx) }

// RecvMsg is Recv; it makes Socket a Conn.
func (s *Socket) RecvMsg(ctx context.Context) (*Msg, error) {
	if s.isClosed() {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: recv"}
	}
	if !s.proto.canRecv() {
		return nil, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: recv", Err: fmt.Errorf("%s sockets cannot receive", s.proto)}
	}
	ctx, cancel := s.withTimeout(ctx, &s.recvTimeout)
	defer cancel()
	m, err := s.eng.Recv(ctx)
	if err != nil {
		return nil, nngerr.Wrap(err, "sockets: recv")
	}
	return wrapMsg(m), nil
}

// RecvMode receives one message and decodes it by a nanonext mode (see
// DecodeMode). On a conversion failure the error is a *ConvertError
// holding the raw bytes.
func (s *Socket) RecvMode(ctx context.Context, mode Mode) (any, error) {
	m, err := s.RecvMsg(ctx)
	if err != nil {
		return nil, err
	}
	return DecodeMode(m, mode, s.Codec())
}

// Subscribe adds a topic on a sub socket: a message is received only if
// its body starts with one of the socket's topics. The topic is a string
// (its bytes, without NUL), []byte, nil or "" (everything), or any value
// Raw mode encodes (a float64 subscribes to its 8 bytes). Other protocols
// fail with ErrNotSupported.
//
// Topics match raw bytes, so the publisher must send in Raw mode: a Serial
// payload (the default send) starts with the serial marker, d9 d9 f7, and
// never matches a non-empty topic, so the subscriber silently receives
// nothing. Open the pub socket with WithSendMode(Raw), or pass Raw to each
// Send, and put the topic first: Send(ctx, []string{"news", "text"})
// matches the topic "news" and arrives, in Character mode, as both strings.
func (s *Socket) Subscribe(topic any) error { return s.subscription(topic, true) }

// Unsubscribe removes a topic added by Subscribe; ErrNotFound if absent.
func (s *Socket) Unsubscribe(topic any) error { return s.subscription(topic, false) }

func (s *Socket) subscription(topic any, add bool) error {
	if s.isClosed() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: subscribe"}
	}
	return subscribe(s.eng, topic, add)
}

// SetSurveyTime sets how long a surveyor's surveys collect answers (NNG's
// surveyor:survey-time, default 1 s) for surveys sent from now on. Zero or
// negative means surveys never expire. Other protocols: ErrNotSupported.
func (s *Socket) SetSurveyTime(d time.Duration) error {
	st, ok := s.eng.(proto.SurveyTimer)
	if !ok {
		return &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: survey time"}
	}
	st.SetSurveyTime(d)
	return nil
}

// Pipes returns the number of live connections.
func (s *Socket) Pipes() int { return s.eng.Pipes() }

// ClosePipe closes the connection with the given id (a Msg.Pipe or
// PipeEvent.Pipe), as NNG's nng_pipe_close: a server drops a peer that
// misbehaves or says nothing. Its dialer, if any, redials as after any
// lost connection. It fails with ErrNotFound when no such connection is
// live (never was, or already gone). It closes the connection's file
// descriptor and does not wait for the pipe's goroutines.
func (s *Socket) ClosePipe(id uint32) error {
	if s.isClosed() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: close pipe"}
	}
	if !s.pipes.close(id) {
		return nanoact.Errorf(nanoact.CodeNotFound, "sockets: close pipe", "no connection %d", id)
	}
	return nil
}

// Dialers returns the socket's dialers, oldest first.
func (s *Socket) Dialers() []*Dialer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Dialer(nil), s.dialers...)
}

// Listeners returns the socket's listeners, oldest first.
func (s *Socket) Listeners() []*Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Listener(nil), s.listeners...)
}

// encode builds a pooled message holding v in mode.
func encode(v any, mode Mode, cd Codec) (*mangos.Message, error) {
	if m, ok := v.(*Msg); ok {
		return m.mangosMsg(), nil
	}
	switch mode {
	case Serial:
		// A body beyond mangos' largest cached message would cost a
		// whole uncached message (three allocations): take a cached
		// message and give it a body of its own instead.
		var m *mangos.Message
		if hint := serialSizeHint(v); hint <= serialCached {
			m = msgpool.New(hint)
		} else {
			m = msgpool.New(0)
			m.Body = make([]byte, 0, hint)
		}
		b, err := codec.AppendSerial(m.Body[:0], cd, v)
		if err != nil {
			m.Free()
			return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: "sockets: send", Err: err}
		}
		m.Body = b
		return m, nil
	case Raw:
		m := msgpool.New(rawSizeHint(v))
		b, err := codec.AppendRaw(m.Body[:0], v)
		if err != nil {
			m.Free()
			return nil, nngerr.Wrap(err, "sockets: send")
		}
		m.Body = b
		return m, nil
	}
	return nil, nanoact.Errorf(nanoact.CodeInvalid, "sockets: send", "'mode' should be either serial or raw (got %s)", mode)
}

// serialCached is the largest body mangos' message cache holds.
const serialCached = 64 << 10

// serialSizeHint guesses the size of v's serial payload: the marker, a
// CBOR head and the data for bytes and strings, 9 bytes a float64.
func serialSizeHint(v any) int {
	switch x := v.(type) {
	case []byte:
		return len(x) + 12
	case string:
		return len(x) + 12
	case []float64:
		return 9*len(x) + 12
	}
	return 64
}

func rawSizeHint(v any) int {
	switch x := v.(type) {
	case []byte:
		return len(x)
	case string:
		return len(x) + 1
	case []float64:
		return 8 * len(x)
	case []int32:
		return 4 * len(x)
	}
	return 64
}

// socketActor is the socket's mailbox: control calls arrive as closures
// (actor.Ref.Call), pipe events as PipeEvent messages.
type socketActor struct{ s *Socket }

func (a *socketActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case PipeEvent:
		a.s.pipes.publish(m)
	}
}

// RecvReady returns a channel that is closed while a message waits to be
// received on the socket (not on its contexts); it does not consume the
// message. After the message is taken, call RecvReady again for a fresh
// channel. The first call switches readiness tracking on, which then costs
// the data path a mutex per change of queue level. Send-only protocols
// give a nil channel and ErrNotSupported.
func (s *Socket) RecvReady() (<-chan struct{}, error) {
	r, ok := s.eng.(proto.Readier)
	if !ok || !s.proto.canRecv() {
		return nil, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: recv ready"}
	}
	return r.Ready(), nil
}

// RecvFD returns a file descriptor that is readable while a message waits
// to be received on the socket (NNG's recv-fd), for event loops outside
// Go's runtime (poll, select, epoll, a C or R event loop in the same
// process). It never consumes the message. The descriptor belongs to the
// socket: do not read it or close it; it is closed with the socket. It
// costs one pipe(2) on first call. Send-only protocols: ErrNotSupported.
func (s *Socket) RecvFD() (int, error) {
	r, ok := s.eng.(proto.Readier)
	if !ok || !s.proto.canRecv() {
		return -1, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: recv-fd"}
	}
	if s.isClosed() {
		return -1, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: recv-fd"}
	}
	return r.RecvFD()
}

// Flush waits until every message queued for sending on the socket and
// its contexts has been written to its connection (or dropped with a
// connection that died), so that Close loses nothing (NNG has no linger;
// this is the graceful form). It polls every millisecond until done or
// ctx ends (ErrTimedOut / ErrCanceled).
func (s *Socket) Flush(ctx context.Context) error {
	if s.eng.Flushed() {
		return nil
	}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !s.eng.Flushed() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return nanoact.FromContext(ctx, "sockets: flush")
		case <-s.Done():
			return nil
		}
	}
	return nil
}
