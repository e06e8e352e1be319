package transport

import (
	"crypto/tls"
	"sync/atomic"
	"time"

	"go.nanomsg.org/mangos/v3"
)

// options are the settings a dialer or listener hands to each new pipe.
// They are copied under the endpoint's lock, so a pipe keeps the values it
// was created with.
type options struct {
	maxRecv   int           // mangos.OptionMaxRecvSize; 0 = unlimited
	noDelay   bool          // tcp, tls+tcp, ws and wss
	keepAlive bool          // tcp, tls+tcp, ws and wss
	kaPeriod  time.Duration // mangos.OptionKeepAliveTime
	idle      time.Duration // OptionIdleTimeout; 0 = none
	hsTimeout time.Duration // OptionHandshakeTimeout
	events    Events        // OptionEvents; may be nil
	tls       *tls.Config   // mangos.OptionTLSConfig; tls+tcp and wss only
	split     bool          // OptionSplitWord
	recvGate  int           // OptionRecvGate; 0 = none
}

// defaultOptions are NNG 2.0's receive limit and NNG's other defaults:
// TCP_NODELAY on, SO_KEEPALIVE off, 10 s to handshake, no idle time-out.
func defaultOptions() options {
	return options{
		maxRecv:   DefaultRecvSizeMax,
		noDelay:   true,
		kaPeriod:  DefaultKeepAliveTime,
		hsTimeout: DefaultHandshakeTimeout,
	}
}

// set applies one of the options shared by dialers and listeners. handled
// is false when name is not one of them for t's kind of transport.
func (o *options) set(t *tran, name string, v any) (handled bool, err error) {
	switch name {
	case mangos.OptionMaxRecvSize:
		n, ok := v.(int)
		if !ok || n < 0 {
			return true, mangos.ErrBadValue
		}
		o.maxRecv = n
		return true, nil
	case OptionRecvGate:
		n, ok := v.(int)
		if !ok || n < 0 {
			return true, mangos.ErrBadValue
		}
		o.recvGate = n
		return true, nil
	case OptionHandshakeTimeout:
		d, ok := v.(time.Duration)
		if !ok || d <= 0 {
			return true, mangos.ErrBadValue
		}
		o.hsTimeout = d
		return true, nil
	case OptionSplitWord:
		b, ok := v.(bool)
		if !ok {
			return true, mangos.ErrBadValue
		}
		o.split = b
		return true, nil
	case OptionIdleTimeout:
		if t.kind == kindInproc {
			return false, nil
		}
		d, ok := v.(time.Duration)
		if !ok || d < 0 {
			return true, mangos.ErrBadValue
		}
		o.idle = d
		return true, nil
	case OptionEvents:
		if v == nil {
			o.events = nil
			return true, nil
		}
		e, ok := v.(Events)
		if !ok {
			return true, mangos.ErrBadValue
		}
		o.events = e
		return true, nil
	}
	if t.tls && name == mangos.OptionTLSConfig {
		c, ok := v.(*tls.Config)
		if !ok || c == nil {
			return true, mangos.ErrBadValue
		}
		o.tls = c
		return true, nil
	}
	if !t.overTCP() {
		return false, nil
	}
	switch name {
	case mangos.OptionNoDelay:
		b, ok := v.(bool)
		if !ok {
			return true, mangos.ErrBadValue
		}
		o.noDelay = b
		return true, nil
	case mangos.OptionKeepAlive:
		b, ok := v.(bool)
		if !ok {
			return true, mangos.ErrBadValue
		}
		o.keepAlive = b
		return true, nil
	case mangos.OptionKeepAliveTime:
		d, ok := v.(time.Duration)
		if !ok || d <= 0 {
			return true, mangos.ErrBadValue
		}
		o.kaPeriod = d
		return true, nil
	}
	return false, nil
}

// get reads one of the shared options.
func (o *options) get(t *tran, name string) (v any, handled bool) {
	switch name {
	case mangos.OptionMaxRecvSize:
		return o.maxRecv, true
	case OptionRecvGate:
		return o.recvGate, true
	case OptionHandshakeTimeout:
		return o.hsTimeout, true
	case OptionEvents:
		return o.events, true
	case OptionSplitWord:
		return o.split, true
	case OptionIdleTimeout:
		if t.kind != kindInproc {
			return o.idle, true
		}
	}
	if t.tls && name == mangos.OptionTLSConfig {
		return o.tls, true
	}
	if t.overTCP() {
		switch name {
		case mangos.OptionNoDelay:
			return o.noDelay, true
		case mangos.OptionKeepAlive:
			return o.keepAlive, true
		case mangos.OptionKeepAliveTime:
			return o.kaPeriod, true
		}
	}
	return nil, false
}

// RecvGate is what a pipe's OptionRecvGate gives: Open lifts the pipe's
// gate, so that its messages are limited by mangos.OptionMaxRecvSize
// alone. It takes effect for the next message whose length the pipe
// reads, is idempotent, safe for concurrent use, and does not block.
type RecvGate interface{ Open() }

// gate is a pipe's receive gate (OptionRecvGate): closed until Open.
type gate struct{ opened atomic.Bool }

// Open lifts the gate.
func (g *gate) Open() { g.opened.Store(true) }

// limit is the receive limit now: n (the gate) while it is closed and
// smaller than max (0 = unlimited), else max.
func (g *gate) limit(n, max int) int {
	if n > 0 && !g.opened.Load() && (max == 0 || n < max) {
		return n
	}
	return max
}
