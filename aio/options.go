package aio

import (
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/sockets"
)

// Option configures one Send or Recv.
//
// Each option's apply is the one place that sets it. It takes the config
// by value and returns it, rather than a pointer, so that the config stays
// on the caller's stack (a pointer passed through an interface call would
// make it escape: one allocation per aio).
type Option interface{ apply(config) config }

// applyOption applies o (nil is ignored) to c.
func applyOption(o Option, c *config) {
	if o != nil {
		*c = o.apply(*c)
	}
}

type config struct {
	timeout    time.Duration
	hasTimeout bool
	mode       sockets.Mode
	pipe       uint32
	cv         *CV
	cvs        []*CV // beyond the first
	sys        *actor.System
	log        *zap.Logger
}

type timeoutOpt time.Duration

func (o timeoutOpt) apply(c config) config {
	c.timeout, c.hasTimeout = time.Duration(o), true
	return c
}

// Timeout bounds the operation, as nanonext's timeout argument:
//
//   - not given: the connection's own send-timeout or recv-timeout option
//     applies (NNG_DURATION_DEFAULT; the sockets default is no limit);
//   - zero: the operation completes only if it can at once; otherwise the
//     aio resolves to ErrTimedOut straight away (NNG's zero duration). No
//     goroutine is started;
//   - positive: the aio resolves to ErrTimedOut (matching also
//     context.DeadlineExceeded) if the operation has not completed within d;
//   - negative: no limit at all, ignoring the connection's timeout option.
//
// A receive that times out on a req socket or context abandons the request,
// as in NNG.
func Timeout(d time.Duration) Option { return timeoutOpt(d) }

type modeOpt sockets.Mode

// hasMode reports whether opts give a Mode.
func hasMode(opts []Option) bool {
	for _, o := range opts {
		if _, ok := o.(modeOpt); ok {
			return true
		}
	}
	return false
}

func (o modeOpt) apply(c config) config { c.mode = sockets.Mode(o); return c }

// Mode sets the send or receive mode. Sends take sockets.Serial (the
// default: the connection's Codec) or sockets.Raw. Receives decode in
// Serial mode by default; any other mode (sockets.Raw, sockets.Double, …)
// decodes the raw bytes by the aio's type T, as sockets.Decode does.
func Mode(m sockets.Mode) Option { return modeOpt(m) }

type pipeOpt uint32

func (o pipeOpt) apply(c config) config { c.pipe = uint32(o); return c }

// ToPipe directs a Send to the pipe with the given id (nanonext's
// send_aio(pipe = id)); only poly and bus sockets can, others resolve to
// ErrNotSupported. Recv ignores it.
func ToPipe(id uint32) Option { return pipeOpt(id) }

type signalOpt struct{ cv *CV }

func (o signalOpt) apply(c config) config {
	switch {
	case o.cv == nil:
	case c.cv == nil:
		c.cv = o.cv
	default:
		c.cvs = append(c.cvs, o.cv)
	}
	return c
}

// Signal makes the aio signal cv once when it resolves, whatever the
// outcome: success, error, time-out, cancellation or close (nanonext's
// recv_aio(cv = cv)). The aio is marked resolved in the same critical
// section as the signal: after cv.Wait returns the aio's Result is
// available, and once the aio is seen resolved, cv has been signalled.
// Given several times, every CV is signalled; nil is ignored. Cost: the
// aio's out-of-line state, one allocation of about 120 bytes (see Aio).
func Signal(cv *CV) Option { return signalOpt{cv} }

type systemOpt struct{ sys *actor.System }

func (o systemOpt) apply(c config) config { c.sys = o.sys; return c }

// WithSystem sets the actor system on which Ref spawns the aio's actor;
// the default, and the value used for nil, is actor.Default().
func WithSystem(sys *actor.System) Option { return systemOpt{sys} }

type loggerOpt struct{ l *zap.Logger }

func (o loggerOpt) apply(c config) config { c.log = o.l; return c }

// WithLogger sets the logger that reports a panic in an OnComplete callback
// (at Error, with its stack). The default, and the value used for nil, is
// zap.NewNop().
func WithLogger(l *zap.Logger) Option { return loggerOpt{l} }
