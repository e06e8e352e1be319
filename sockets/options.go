package sockets

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/transport"
)

// Option configures a Socket in New.
type Option interface{ apply(*config) }

type config struct {
	raw              bool
	logger           *zap.Logger
	veto             func(*Pipe) error // WithPipeVeto (veto.go)
	system           *actor.System
	codec            Codec
	sendMode         Mode
	dials, listens   []endpointSpec
	reconnMin        time.Duration
	reconnMax        time.Duration
	handshakeTimeout time.Duration
	recvGate         int // WithRecvGate
	recvMax          int
	noDelay          bool
	keepAlive        bool
	idleTimeout      time.Duration // limits.go
	maxConns         int

	// tlsClient and tlsServer are set by the TLS option (tls.go).
	tlsClient, tlsServer *TLSConfig
}

type endpointSpec struct {
	url  string
	opts []EndpointOption
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func defaultConfig() config {
	return config{
		logger:           zap.NewNop(),
		codec:            codec.CBOR(),
		sendMode:         Serial,
		reconnMin:        time.Second,
		handshakeTimeout: 10 * time.Second,
		recvMax:          transport.DefaultRecvSizeMax,
		noDelay:          true,
	}
}

// Dial makes New dial url once the socket is open, as nanonext's
// socket(dial = url). Endpoint options apply to that dialer. If the dial
// fails, New fails and closes the socket.
func Dial(url string, opts ...EndpointOption) Option {
	return optionFunc(func(c *config) { c.dials = append(c.dials, endpointSpec{url, opts}) })
}

// Listen makes New listen on url once the socket is open, as nanonext's
// socket(listen = url). Listeners are started before dialers.
func Listen(url string, opts ...EndpointOption) Option {
	return optionFunc(func(c *config) { c.listens = append(c.listens, endpointSpec{url, opts}) })
}

// WithRaw opens the raw variant of the protocol (nanonext's raw = TRUE):
// no protocol state, headers exposed in Msg.Header, for devices and proxies.
func WithRaw() Option { return optionFunc(func(c *config) { c.raw = true }) }

// WithLogger sets the logger; nil or absent means zap.NewNop(). The socket
// logs connection lifecycle at Debug and peer faults at Warn.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithSystem runs the socket's actor on sys instead of actor.Default().
func WithSystem(sys *actor.System) Option {
	return optionFunc(func(c *config) { c.system = sys })
}

// WithCodec sets the codec of Serial mode; the default is CBOR. Hooks
// builds one that writes chosen Go types with functions of one's own.
func WithCodec(cd Codec) Option {
	return optionFunc(func(c *config) {
		if cd != nil {
			c.codec = cd
		}
	})
}

// WithSendMode sets the mode of a Send given no Mode, on the socket and on
// contexts opened from it: Serial (the default) or Raw; New fails with
// ErrInvalid for any other mode. A Mode passed to Send still wins.
//
// A pub socket whose subscribers filter by topic wants Raw: a serial
// payload starts with the serial marker, so it never matches a topic (see
// Socket.Subscribe).
func WithSendMode(m Mode) Option {
	return optionFunc(func(c *config) { c.sendMode = m })
}

// WithReconnect sets the wait before a dialer redials after a failed
// attempt or a lost connection (NNG's reconnect-time-min, default 1 s) and
// the ceiling of its exponential back-off (reconnect-time-max, default 0 =
// no back-off). It applies to dialers created afterwards.
func WithReconnect(min, max time.Duration) Option {
	return optionFunc(func(c *config) { c.reconnMin, c.reconnMax = min, max })
}

// WithHandshakeTimeout bounds the SP handshake of a new tcp, ipc or
// abstract connection (default 10 s): a peer that connects and then stays
// silent is dropped when it runs out. Zero or negative means no limit.
func WithHandshakeTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.handshakeTimeout = d })
}

// WithRecvSizeMax limits the size of an incoming message in bytes (NNG's
// recv-size-max). The default is 1 GiB, as in NNG 2.0; NNG 1.x and
// nanonext default to 0, unlimited, which n = 0 still selects (the
// process-wide receive budget, SetRecvBudget, then bounds memory). A
// larger message closes the connection it came on — only that one — and
// is logged at Warn and counted; a dialer then reconnects.
func WithRecvSizeMax(n int) Option {
	return optionFunc(func(c *config) { c.recvMax = n })
}

// WithRecvGate gives every new tcp, ipc, abstract, tls+tcp, ws and wss
// connection of the socket a receive limit of n bytes, smaller than
// recv-size-max, until OpenRecvGate lifts it for that connection: a
// longer message closes the connection as one over recv-size-max does
// (logged at Warn, counted in the "oversize" statistic). A protocol that
// authenticates its peers in a small first message sets it, so that an
// unauthenticated peer cannot make the socket hold more than n bytes.
// Default 0: no gate. inproc connections have none.
func WithRecvGate(n int) Option {
	return optionFunc(func(c *config) { c.recvGate = n })
}

// EndpointOption configures a Dialer or Listener.
type EndpointOption interface{ applyEndpoint(*endpointConfig) }

type endpointConfig struct {
	start StartMode
	tls   *TLSConfig      // TLS
	ctx   context.Context // StartContext
}

// StartContext bounds a Sync dial by ctx: the call (Socket.Dial,
// Dialer.Start, or New and rpc.NewClient with the Dial option) returns
// once ctx ends, with an error matching ErrTimedOut (a passed deadline)
// or ErrCanceled that wraps ctx.Err(), and leaves no dialer (Dialer.Start:
// the dialer not started), as a failed Sync dial. Without it a
// Sync dial waits for its one attempt: the connection, then the handshake
// within the socket's handshake time-out. Once the dial has succeeded, ctx
// no longer matters: the dialer and its reconnections live as long as the
// socket or until closed. Async and Later starts do not block and ignore
// it, as do listeners, whose start only binds.
//
// It is an option rather than a ctx parameter of Dial and New so that a
// socket opened with New(proto, Dial(url, Sync, StartContext(ctx))) takes
// it too and existing calls keep compiling.
func StartContext(ctx context.Context) EndpointOption { return startContext{ctx} }

type startContext struct{ ctx context.Context }

func (o startContext) applyEndpoint(c *endpointConfig) { c.ctx = o.ctx }

// StartMode says when and how a dialer or listener starts: nanonext's
// autostart = TRUE (Async), NA (Sync) and FALSE (Later).
type StartMode int

const (
	// Async starts at once. A dialer connects in the background and keeps
	// retrying until it succeeds; a listener binds at once. The default.
	Async StartMode = iota
	// Sync starts at once and waits: a dialer makes one connection attempt
	// and fails with the error of that attempt (ErrConnRefused when nobody
	// listens), leaving no dialer behind. For a listener it is Async.
	Sync
	// Later creates the endpoint without starting it; call Start.
	Later
)

func (m StartMode) applyEndpoint(c *endpointConfig) { c.start = m }

// String returns "async", "sync" or "later".
func (m StartMode) String() string {
	switch m {
	case Sync:
		return "sync"
	case Later:
		return "later"
	}
	return "async"
}

// SendOption configures one Send: a Mode (Serial or Raw) or ToPipe.
type SendOption interface{ applySend(*sendConfig) }

type sendConfig struct {
	mode Mode
	pipe uint32
}

type toPipe uint32

func (p toPipe) applySend(c *sendConfig) { c.pipe = uint32(p) }

// ToPipe directs a send to the pipe with the given id (nanonext's
// send(pipe = id)). Only poly and bus sockets can direct a send; other
// protocols fail with ErrNotSupported. A pipe that is gone drops the
// message, as NNG does.
func ToPipe(id uint32) SendOption { return toPipe(id) }
