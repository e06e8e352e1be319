package transport

import (
	"time"

	"go.nanomsg.org/mangos/v3"
)

// options are the settings a dialer or listener hands to each new pipe.
// They are copied under the endpoint's lock, so a pipe keeps the values it
// was created with.
type options struct {
	maxRecv   int           // mangos.OptionMaxRecvSize; 0 = unlimited
	noDelay   bool          // tcp only
	keepAlive bool          // tcp only
	hsTimeout time.Duration // OptionHandshakeTimeout
	events    Events        // OptionEvents; may be nil
}

// defaultOptions are NNG's defaults: no receive limit, TCP_NODELAY on,
// SO_KEEPALIVE off, 10 s to handshake.
func defaultOptions() options {
	return options{noDelay: true, hsTimeout: DefaultHandshakeTimeout}
}

// set applies one of the options shared by dialers and listeners. handled
// is false when name is not one of them for this kind of transport.
func (o *options) set(k kind, name string, v any) (handled bool, err error) {
	switch name {
	case mangos.OptionMaxRecvSize:
		n, ok := v.(int)
		if !ok || n < 0 {
			return true, mangos.ErrBadValue
		}
		o.maxRecv = n
		return true, nil
	case OptionHandshakeTimeout:
		d, ok := v.(time.Duration)
		if !ok || d <= 0 {
			return true, mangos.ErrBadValue
		}
		o.hsTimeout = d
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
	if k != kindTCP {
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
	}
	return false, nil
}

// get reads one of the shared options.
func (o *options) get(k kind, name string) (v any, handled bool) {
	switch name {
	case mangos.OptionMaxRecvSize:
		return o.maxRecv, true
	case OptionHandshakeTimeout:
		return o.hsTimeout, true
	case OptionEvents:
		return o.events, true
	}
	if k == kindTCP {
		switch name {
		case mangos.OptionNoDelay:
			return o.noDelay, true
		case mangos.OptionKeepAlive:
			return o.keepAlive, true
		}
	}
	return nil, false
}
