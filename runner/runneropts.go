package runner

import (
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/sockets"
)

// DispatcherOption configures NewDispatcher.
type DispatcherOption interface{ applyDispatcher(*dispatcherConfig) }

// DaemonOption configures NewDaemon, RunDaemon, StartDaemons and daemoncmd.Main.
type DaemonOption interface{ applyDaemon(*daemonConfig) }

// RunnerOption configures both sides of the task runner: a dispatcher and
// its daemons.
type RunnerOption interface {
	DispatcherOption
	DaemonOption
}

type dispatcherConfig struct {
	log          *zap.Logger
	sys          *actor.System
	codec        sockets.Codec
	token        string
	reg          *Registry
	perDaemon    int
	also         []string
	advertise    string
	certPEM      []byte
	keyPEM       []byte
	certValidity time.Duration
	helloTimeout time.Duration
	maxFrame     int
	sockOpts     []sockets.Option

	maxQueued      int
	maxQueuedBytes int64

	seed    uint64 // WithSeed
	seedSet bool

	tp             trace.TracerProvider // WithTracerProvider
	interruptGrace time.Duration        // WithInterruptGrace (interrupt.go)
}

type runnerOption struct {
	d  func(*dispatcherConfig)
	dm func(*daemonConfig)
}

func (o runnerOption) applyDispatcher(c *dispatcherConfig) {
	if o.d != nil {
		o.d(c)
	}
}

func (o runnerOption) applyDaemon(c *daemonConfig) {
	if o.dm != nil {
		o.dm(c)
	}
}

type dispatcherOptionFunc func(*dispatcherConfig)

func (f dispatcherOptionFunc) applyDispatcher(c *dispatcherConfig) { f(c) }

// WithLogger sets the logger of a dispatcher or daemon (default:
// none). A dispatcher logs daemons joining and leaving at Info, refused
// daemons and daemons lost mid-task at Warn; a daemon its connection's
// lifecycle at Info and panicking tasks at Warn.
func WithLogger(l *zap.Logger) RunnerOption {
	return runnerOption{
		d:  func(c *dispatcherConfig) { c.log = l },
		dm: func(c *daemonConfig) { c.log = l },
	}
}

// WithSystem runs the dispatcher's actor and the sockets' actors on
// sys instead of actor.Default().
func WithSystem(sys *actor.System) RunnerOption {
	return runnerOption{
		d:  func(c *dispatcherConfig) { c.sys = sys },
		dm: func(c *daemonConfig) { c.sys = sys },
	}
}

// WithCodec sets the Serial codec of task arguments and results
// (default CBOR, sockets' codec). A dispatcher and its daemons must use
// the same one.
func WithCodec(cd sockets.Codec) RunnerOption {
	return runnerOption{
		d:  func(c *dispatcherConfig) { c.codec = cd },
		dm: func(c *daemonConfig) { c.codec = cd },
	}
}

// WithToken sets the session token. A dispatcher makes a random 256-bit
// one by default (see Dispatcher.Token); a daemon must hold the
// dispatcher's to join: it answers the dispatcher's challenge with an
// HMAC keyed by the token, which itself never crosses the wire.
func WithToken(token string) RunnerOption {
	return runnerOption{
		d:  func(c *dispatcherConfig) { c.token = token },
		dm: func(c *daemonConfig) { c.token = token },
	}
}

// WithRegistry gives the dispatcher the tasks its in-process daemons run
// (StartDaemons). Process and remote daemons use their own binary's.
func WithRegistry(reg *Registry) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.reg = reg })
}

// DefaultPerDaemon is the default WithPerDaemon cap.
const DefaultPerDaemon = 1024

// WithPerDaemon caps how many tasks a daemon runs at once: the smaller of n
// and what the daemon offers in its hello (WithConcurrency, default 1). Zero
// or negative means DefaultPerDaemon, the default: a daemon's claims are
// never trusted beyond the cap, and what the dispatcher keeps per daemon
// grows with the tasks it runs, not with what it claims. It applies to
// daemons that join afterwards.
func WithPerDaemon(n int) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.perDaemon = n })
}

// DefaultMaxFrame is the default MaxFrame: 64 MiB.
const DefaultMaxFrame = 64 << 20

// WithMaxFrame bounds the size in bytes of one task or result message
// (default DefaultMaxFrame; zero or negative means the default). A
// dispatcher refuses to submit a task whose encoded arguments do not fit
// (its aio resolves with an error matching nanoact.ErrMsgSize) and closes
// a connection that sends a larger message; a daemon returns a result
// that does not fit as such an error, and closes a connection that sends
// it a larger task. The dispatcher tells its daemons its limit in the
// challenge, so a daemon uses the smaller of the two for its results.
// Before its hello is accepted, a connection may send only one small
// message (4 KiB), whatever WithMaxFrame is. It sets the recv-size-max of
// the dispatcher's and daemons' sockets.
func WithMaxFrame(n int) RunnerOption {
	return runnerOption{
		d:  func(c *dispatcherConfig) { c.maxFrame = n },
		dm: func(c *daemonConfig) { c.maxFrame = n },
	}
}

// WithListen makes the dispatcher listen on more URLs besides its first
// (tcp://, tls+tcp://, ws://, wss://, ipc://). TLS ones use the same
// certificate.
func WithListen(urls ...string) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.also = append(c.also, urls...) })
}

// WithAdvertise sets the host name or address remote daemons dial, which is
// also the name in the generated certificate. The default is the host of
// the listening URL, or os.Hostname() when that is a wildcard (0.0.0.0,
// ::, empty).
func WithAdvertise(host string) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.advertise = host })
}

// WithCert makes TLS listeners use this certificate and key (PEM) instead
// of one generated on the fly; certPEM is what daemons are told to trust.
func WithCert(certPEM, keyPEM []byte) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.certPEM, c.keyPEM = certPEM, keyPEM })
}

// DefaultHelloTimeout is how long a dispatcher waits, by default, for a
// new connection's hello: NNG's handshake time-out.
const DefaultHelloTimeout = 10 * time.Second

// WithHelloTimeout sets how long a dispatcher waits for the hello of a new
// connection before closing it (default DefaultHelloTimeout), so that a
// peer that connects and says nothing does not hold a connection for ever.
// A refused connection, and one replaced by a newer one under its daemon
// id, is closed this long after its refusal if its peer has not left.
// Zero or negative waits for ever.
func WithHelloTimeout(d time.Duration) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.helloTimeout = d })
}

// WithCertValidity sets how long a generated certificate is valid (default 7
// days).
func WithCertValidity(d time.Duration) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.certValidity = d })
}

// WithSocketOptions passes options to the poly socket of a dispatcher or
// a daemon (handshake time-out, ...). A dispatcher's receive size limit
// and receive gate are its own (WithMaxFrame).
func WithSocketOptions(opts ...sockets.Option) RunnerOption {
	return runnerOption{
		d:  func(c *dispatcherConfig) { c.sockOpts = append(c.sockOpts, opts...) },
		dm: func(c *daemonConfig) { c.sockOpts = append(c.sockOpts, opts...) },
	}
}

// DefaultMaxQueued is the default WithMaxQueued bound: 100,000 tasks
// waiting for a daemon, tens of MiB of bookkeeping (see WithMaxQueued),
// deep enough that a Map or a producer keeps every daemon busy, small
// enough that a producer faster than its daemons waits instead of
// growing the heap without end.
const DefaultMaxQueued = 100_000

// DefaultMaxQueuedBytes is the default WithMaxQueuedBytes bound: 1 GiB
// of encoded arguments waiting for a daemon, the socket layer's default
// receive size limit (mirai's memory= is unbounded by default; a
// dispatcher process that queues more than this is better told to wait).
const DefaultMaxQueuedBytes = 1 << 30

// WithMaxQueued bounds the tasks waiting in the dispatcher's queue (not
// yet sent to a daemon): when n are queued, Submit waits for room under
// its ctx (and the task's TaskTimeout) and TrySubmit fails at once with
// an error matching nanoact.ErrTryAgain. Zero means DefaultMaxQueued;
// negative, no bound. A task re-queued after its daemon was lost
// (Requeue) goes back to the queue whatever the bound. Each queued task
// costs its encoded arguments plus a fixed amount (about 190 bytes with
// its aio, measured by BenchmarkQueuedTaskHeap; see the package doc).
func WithMaxQueued(n int) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.maxQueued = n })
}

// WithMaxQueuedBytes bounds the encoded arguments of the tasks waiting in
// the dispatcher's queue, in bytes (mirai's memory=), as WithMaxQueued
// bounds their number. A single task larger than n is admitted when the
// queue holds no other arguments, so that it can run at all. Zero means
// DefaultMaxQueuedBytes; negative, no bound.
func WithMaxQueuedBytes(n int64) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.maxQueuedBytes = n })
}
