package sockets

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/proto"
	"github.com/nanoact/nanoact/internal/transport"
)

// Opt is a run-time option, named as NNG names it, whose values have type
// T. Read and write options with Get and Set, which check at compile time
// that the value's type is right:
//
//	sockets.Set(s, sockets.RecvTimeout, 500*time.Millisecond)
//	d, err := sockets.Get(s, sockets.SurveyTime)
//
// Durations are time.Duration here and whole milliseconds in NNG; a
// negative duration means "no limit" (NNG's -1).
type Opt[T any] struct{ name string }

// Name returns NNG's name for the option, e.g. "recv-timeout".
func (o Opt[T]) Name() string { return o.name }

// The options. Each says where it applies (socket, context, dialer,
// listener), its unit, its default, and when a change takes effect.
var (
	// RecvSizeMax (socket, dialer, listener; bytes): the largest message a
	// connection may deliver; default 1 GiB as in NNG 2.0 (NNG 1.x: 0),
	// 0 = unlimited (see WithRecvSizeMax). A larger message
	// closes its connection, which is logged and counted. Applies to
	// connections made afterwards.
	RecvSizeMax = Opt[int]{"recv-size-max"}
	// SendTimeout (socket, context): how long a blocking send (a context
	// without deadline) waits; negative = forever (default).
	SendTimeout = Opt[time.Duration]{"send-timeout"}
	// RecvTimeout (socket, context): how long a blocking receive waits;
	// negative = forever (default).
	RecvTimeout = Opt[time.Duration]{"recv-timeout"}
	// SendBuffer (socket; messages, 0..8192): the depth of the shared send
	// queue of push, pair, poly and req (default 0, as NNG: a message goes
	// only to a connection ready for it, each connection taking one). Settable
	// at any time, as in NNG; queued messages are kept (shrinking sends the
	// ones that no longer fit first).
	SendBuffer = Opt[int]{"send-buffer"}
	// RecvBuffer (socket; messages, 0..8192): the depth of the receive
	// queue (default 128). Settable at any time, as in NNG; queued messages
	// are kept, except that shrinking drops the oldest that no longer fit
	// (counted in the drop_recv_full statistic). On a sub socket it sets
	// the depth of contexts opened afterwards too; a sub context has its
	// own (1..8192), as in NNG.
	RecvBuffer = Opt[int]{"recv-buffer"}
	// ReconnectTimeMin (socket, dialer): the wait before a dialer redials
	// (default 1 s). On a socket it applies to dialers created afterwards.
	ReconnectTimeMin = Opt[time.Duration]{"reconnect-time-min"}
	// ReconnectTimeMax (socket, dialer): the ceiling of the exponential
	// back-off between redials; 0 = no back-off (default).
	ReconnectTimeMax = Opt[time.Duration]{"reconnect-time-max"}
	// ResendTime (req socket or context): an unanswered request is sent
	// again after this long (default 1 min); 0 or negative never resends.
	// When the connection carrying a request dies, the request goes at
	// once to another peer, or to the first one to connect afterwards (as
	// NNG), or, with resending off, fails with ErrConnReset. Each resend
	// counts in the req_resent statistic. Applies to requests sent
	// afterwards.
	ResendTime = Opt[time.Duration]{"req:resend-time"}
	// SubPrefNew (sub socket or context): when the receive queue is full,
	// drop the oldest message (true, default, as NNG) or the new one.
	SubPrefNew = Opt[bool]{"sub:prefnew"}
	// SurveyTime (surveyor socket or context): how long a survey collects
	// answers (default 1 s); negative or zero = no limit. Applies to
	// surveys sent afterwards; on a socket, also to contexts opened later.
	SurveyTime = Opt[time.Duration]{"surveyor:survey-time"}
	// TCPNoDelay (socket, dialer, listener): disable Nagle's algorithm on
	// tcp connections (default true). Applies to connections made later.
	TCPNoDelay = Opt[bool]{"tcp-nodelay"}
	// TCPKeepAlive (socket, dialer, listener): TCP keep-alive probes on tcp
	// connections (default false), after 15 s of silence and every 15 s;
	// on ws and wss also a websocket ping every 15 s, closing a connection
	// whose peer answers nothing for 45 s (SP itself has no keep-alive).
	// Applies to connections made later.
	TCPKeepAlive = Opt[bool]{"tcp-keepalive"}
	// SocketName (socket): a name of at most 63 bytes, for logs; the
	// default is the socket id.
	SocketName = Opt[string]{"socket-name"}
	// URL (dialer, listener; read-only): the URL, with a tcp listener's
	// bound port.
	URL = Opt[string]{"url"}
	// IPCPermissions (ipc listener): the file mode of the socket file,
	// e.g. 0o600; set before the listener starts.
	IPCPermissions = Opt[int]{"ipc:permissions"}
	// TCPBoundPort (tcp listener; read-only): the port bound.
	TCPBoundPort = Opt[int]{"tcp-bound-port"}
	// RawMode (socket; read-only): whether the socket is raw.
	RawMode = Opt[bool]{"raw"}
	// RecvFD (socket; read-only): a descriptor readable while a message
	// waits; see Socket.RecvFD.
	RecvFD = Opt[int]{"recv-fd"}
	// ProtocolName and PeerName (socket; read-only): "req", "rep", ...
	ProtocolName = Opt[string]{"protocol-name"}
	PeerName     = Opt[string]{"peer-name"}
)

// Optioner is what has options: *Socket, *Context, *Dialer, *Listener,
// *Stream (tcp-nodelay and tcp-keepalive on tcp, ws and wss streams).
type Optioner interface {
	option(name string, set bool, v any) (any, error)
}

// Set sets option o on target. It runs in the target's socket actor for
// socket, dialer and listener options (a few µs); context options are set
// directly. Errors: ErrNotSupported (the option does not apply to target),
// ErrReadOnly, ErrInvalid (a value out of range), ErrClosed.
func Set[T any](target Optioner, o Opt[T], v T) error {
	_, err := target.option(o.name, true, v)
	return explainOption(target, o.name, err)
}

// Get returns the value of option o on target. Errors: ErrNotSupported,
// ErrWriteOnly, ErrClosed.
func Get[T any](target Optioner, o Opt[T]) (T, error) {
	v, err := target.option(o.name, false, nil)
	if err != nil {
		var zero T
		return zero, explainOption(target, o.name, err)
	}
	t, ok := v.(T)
	if !ok {
		var zero T
		return zero, &nanoact.Error{Code: nanoact.CodeBadType, Op: "sockets: get " + o.name}
	}
	return t, nil
}

// optionTypes gives the Go type of each option, for SetOption's
// conversions: 'd' duration, 'i' int, 'b' bool, 's' string, 'y' bytes.
var optionTypes = map[string]byte{
	"recv-size-max": 'i', "send-timeout": 'd', "recv-timeout": 'd', "send-buffer": 'i', "recv-buffer": 'i',
	"reconnect-time-min": 'd', "reconnect-time-max": 'd', "req:resend-time": 'd', "sub:prefnew": 'b',
	"surveyor:survey-time": 'd', "tcp-nodelay": 'b', "tcp-keepalive": 'b', "socket-name": 's', "url": 's',
	"ipc:permissions": 'i', "tcp-bound-port": 'i', "raw": 'b', "protocol-name": 's', "peer-name": 's',
	"sub:subscribe": 'y', "sub:unsubscribe": 'y', "recv-fd": 'i',
	"ws:request-headers": 's', "ws:response-headers": 's', // streams; see stream.go
}

// OptionNames returns the NNG option names SetOption and GetOption know.
func OptionNames() []string {
	names := make([]string, 0, len(optionTypes))
	for n := range optionTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SetOption sets an option by its NNG name, for callers that only have the
// name at run time (a CLI, a config file). Durations may be given as
// time.Duration or as whole milliseconds (int), as NNG takes them; sizes
// and counts as int; flags as bool; names as string; sub:subscribe and
// sub:unsubscribe as string or []byte. Errors as Set, and ErrNotSupported
// for an unknown name, ErrBadType for a value of the wrong type.
func SetOption(target Optioner, name string, v any) error {
	typ, ok := optionTypes[name]
	if !ok {
		return unknownOption(true, name)
	}
	cv, ok := convert(typ, v)
	if !ok {
		return &nanoact.Error{Code: nanoact.CodeBadType, Op: "sockets: set " + name, Err: fmt.Errorf("%T for a %s option", v, typeName(typ))}
	}
	_, err := target.option(name, true, cv)
	return explainOption(target, name, err)
}

// GetOption returns an option by its NNG name: a time.Duration, int, bool
// or string. Errors as Get, and ErrNotSupported for an unknown name.
func GetOption(target Optioner, name string) (any, error) {
	if _, ok := optionTypes[name]; !ok {
		return nil, unknownOption(false, name)
	}
	v, err := target.option(name, false, nil)
	return v, explainOption(target, name, err)
}

func typeName(t byte) string {
	return map[byte]string{'d': "duration (ms)", 'i': "integer", 'b': "boolean", 's': "string", 'y': "bytes"}[t]
}

func convert(typ byte, v any) (any, bool) {
	switch typ {
	case 'd':
		switch x := v.(type) {
		case time.Duration:
			return x, true
		case int:
			return time.Duration(x) * time.Millisecond, true
		case int64:
			return time.Duration(x) * time.Millisecond, true
		}
	case 'i':
		x, ok := v.(int)
		return x, ok
	case 'b':
		x, ok := v.(bool)
		return x, ok
	case 's':
		x, ok := v.(string)
		return x, ok
	case 'y':
		switch x := v.(type) {
		case string:
			return []byte(x), true
		case []byte:
			return x, true
		}
	}
	return nil, false
}

func optErr(c nanoact.Code, name string, set bool) error {
	op := "sockets: get " + name
	if set {
		op = "sockets: set " + name
	}
	return &nanoact.Error{Code: c, Op: op}
}

// rangeErr is ErrInvalid for a value out of an option's range, saying
// the range and what was given.
func rangeErr(name string, got any, want string) error {
	return &nanoact.Error{Code: nanoact.CodeInvalid, Op: "sockets: set " + name, Err: fmt.Errorf("%v is out of range (want %s)", got, want)}
}

func durationMS(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d)
}

// option implements Optioner for sockets.
func (s *Socket) option(name string, set bool, v any) (any, error) {
	if s.isClosed() {
		return nil, optErr(nanoact.CodeClosed, name, set)
	}
	var out any
	err := s.control("sockets: option "+name, func() error {
		var err error
		out, err = s.optionLocked(name, set, v)
		return err
	})
	return out, err
}

// optionLocked runs in the socket actor.
func (s *Socket) optionLocked(name string, set bool, v any) (any, error) {
	ro := func() (any, error) {
		if set {
			return nil, optErr(nanoact.CodeReadOnly, name, set)
		}
		return nil, nil
	}
	switch name {
	case "recv-size-max":
		if set {
			n := v.(int)
			if n < 0 {
				return nil, rangeErr(name, n, "bytes >= 0; 0 is unlimited")
			}
			s.cfg.recvMax = n
			return nil, mangosErr(s.ms.SetOption(mangos.OptionMaxRecvSize, n), name)
		}
		return s.cfg.recvMax, nil
	case "send-timeout", "recv-timeout":
		at := &s.sendTimeout
		if name == "recv-timeout" {
			at = &s.recvTimeout
		}
		if set {
			at.Store(durationMS(v.(time.Duration)))
			return nil, nil
		}
		return time.Duration(at.Load()), nil
	case "send-buffer", "recv-buffer":
		b, ok := s.eng.(proto.Buffered)
		if !ok {
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		}
		if set {
			n := v.(int)
			if n < 0 || n > 8192 {
				return nil, rangeErr(name, n, "0..8192 messages")
			}
			return nil, b.SetBuffer(name == "send-buffer", n)
		}
		n, err := b.Buffer(name == "send-buffer")
		return n, err
	case "reconnect-time-min", "reconnect-time-max":
		if set {
			d := v.(time.Duration)
			if d < 0 {
				return nil, rangeErr(name, d, "a duration >= 0")
			}
			if name == "reconnect-time-min" {
				s.cfg.reconnMin = d
				return nil, mangosErr(s.ms.SetOption(mangos.OptionReconnectTime, d), name)
			}
			s.cfg.reconnMax = d
			return nil, mangosErr(s.ms.SetOption(mangos.OptionMaxReconnectTime, d), name)
		}
		if name == "reconnect-time-min" {
			return s.cfg.reconnMin, nil
		}
		return s.cfg.reconnMax, nil
	case "req:resend-time", "sub:prefnew", "surveyor:survey-time", "sub:subscribe", "sub:unsubscribe":
		return protoOption(s.eng, name, set, v)
	case "tcp-nodelay", "tcp-keepalive":
		if set {
			if name == "tcp-nodelay" {
				s.cfg.noDelay = v.(bool)
			} else {
				s.cfg.keepAlive = v.(bool)
			}
			return nil, nil
		}
		if name == "tcp-nodelay" {
			return s.cfg.noDelay, nil
		}
		return s.cfg.keepAlive, nil
	case "socket-name":
		if set {
			n := v.(string)
			if len(n) > 63 {
				return nil, rangeErr(name, fmt.Sprintf("a name of %d bytes", len(n)), "at most 63 bytes")
			}
			s.name.Store(&n)
			return nil, nil
		}
		return s.Name(), nil
	case "raw":
		if set {
			return ro()
		}
		return s.cfg.raw, nil
	case "recv-fd":
		if set {
			return ro()
		}
		r, ok := s.eng.(proto.Readier)
		if !ok || !s.proto.canRecv() {
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		}
		return r.RecvFD()
	case "protocol-name", "peer-name":
		if set {
			return ro()
		}
		if name == "peer-name" {
			return s.proto.Peer().String(), nil
		}
		return s.proto.String(), nil
	}
	return nil, optErr(nanoact.CodeNotSupported, name, set)
}

// Name returns the socket-name option: the socket id unless set.
func (s *Socket) Name() string {
	if n := s.name.Load(); n != nil {
		return *n
	}
	return strconv.FormatUint(uint64(s.id), 10)
}

// protoOption handles the protocol options of sockets and contexts.
func protoOption(target any, name string, set bool, v any) (any, error) {
	switch name {
	case "req:resend-time":
		r, ok := target.(proto.Resender)
		if !ok {
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		}
		if set {
			r.SetResendTime(v.(time.Duration))
			return nil, nil
		}
		return r.ResendTime(), nil
	case "sub:prefnew":
		p, ok := target.(proto.PrefNewer)
		if !ok {
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		}
		if set {
			p.SetPrefNew(v.(bool))
			return nil, nil
		}
		return p.PrefNew(), nil
	case "surveyor:survey-time":
		st, ok := target.(proto.SurveyTimer)
		if !ok {
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		}
		if set {
			st.SetSurveyTime(v.(time.Duration))
			return nil, nil
		}
		return st.SurveyTime(), nil
	case "sub:subscribe", "sub:unsubscribe":
		if !set {
			return nil, optErr(nanoact.CodeWriteOnly, name, set)
		}
		return nil, subscribe(target, v, name == "sub:subscribe")
	}
	return nil, optErr(nanoact.CodeNotSupported, name, set)
}

func mangosErr(err error, name string) error {
	if err == nil {
		return nil
	}
	return &nanoact.Error{Code: nanoact.CodeInvalid, Op: "sockets: set " + name, Err: err}
}

// option implements Optioner for contexts.
func (c *Context) option(name string, set bool, v any) (any, error) {
	if c.isClosed() {
		return nil, optErr(nanoact.CodeClosed, name, set)
	}
	switch name {
	case "send-timeout", "recv-timeout":
		at := &c.sendTimeout
		if name == "recv-timeout" {
			at = &c.recvTimeout
		}
		if set {
			at.Store(durationMS(v.(time.Duration)))
			return nil, nil
		}
		return time.Duration(at.Load()), nil
	case "send-buffer", "recv-buffer": // a sub context's own queue (NNG's sub0)
		b, ok := c.pc.(proto.Buffered)
		if !ok {
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		}
		if set {
			if n := v.(int); n < 1 || n > 8192 {
				return nil, rangeErr(name, n, "1..8192 messages on a context")
			}
			return nil, b.SetBuffer(name == "send-buffer", v.(int))
		}
		return b.Buffer(name == "send-buffer")
	}
	return protoOption(c.pc, name, set, v)
}

// optionCall runs an option get or set of a dialer or listener in the
// socket actor: a closed endpoint gives ErrNotFound, "url" is read-only
// and answered by url, and every other name goes to fn.
func (e *endpoint) optionCall(name string, set bool, url func() string, fn func() (any, error)) (any, error) {
	var out any
	err := e.s.control("sockets: option "+name, func() error {
		if e.State() == Closed {
			return optErr(nanoact.CodeNotFound, name, set)
		}
		if name == "url" {
			if set {
				return optErr(nanoact.CodeReadOnly, name, set)
			}
			out = url()
			return nil
		}
		var err error
		out, err = fn()
		return err
	})
	return out, err
}

// option implements Optioner for dialers.
func (d *Dialer) option(name string, set bool, v any) (any, error) {
	return d.optionCall(name, set, d.URL, func() (any, error) {
		if name != "reconnect-time-min" && name != "reconnect-time-max" {
			return endpointOption(d.md, name, set, v)
		}
		key := mangos.OptionReconnectTime
		if name == "reconnect-time-max" {
			key = mangos.OptionMaxReconnectTime
		}
		if !set {
			return d.md.GetOption(key)
		}
		if v.(time.Duration) < 0 {
			return nil, rangeErr(name, v, "a duration >= 0")
		}
		return nil, mangosErr(d.md.SetOption(key, v), name)
	})
}

// option implements Optioner for listeners.
func (l *Listener) option(name string, set bool, v any) (any, error) {
	return l.optionCall(name, set, l.URL, func() (any, error) {
		switch name {
		case "tcp-bound-port":
			if set {
				return nil, optErr(nanoact.CodeReadOnly, name, set)
			}
			out, err := l.ml.GetOption(transport.OptionTCPBoundPort)
			if err != nil {
				return nil, optErr(nanoact.CodeNotSupported, name, set)
			}
			return out, nil
		case "ipc:permissions":
			if !set {
				return nil, optErr(nanoact.CodeWriteOnly, name, set)
			}
			if err := l.ml.SetOption(transport.OptionIPCPermissions, v); err != nil {
				return nil, optErr(nanoact.CodeNotSupported, name, set)
			}
			return nil, nil
		}
		return endpointOption(l.ml, name, set, v)
	})
}

// mangosEndpoint is what dialers and listeners of mangos share.
type mangosEndpoint interface {
	SetOption(name string, v any) error
	GetOption(name string) (any, error)
}

// endpointOption handles the options dialers and listeners share.
func endpointOption(e mangosEndpoint, name string, set bool, v any) (any, error) {
	var key string
	switch name {
	case "recv-size-max":
		key = mangos.OptionMaxRecvSize
		if set && v.(int) < 0 {
			return nil, rangeErr(name, v, "bytes >= 0; 0 is unlimited")
		}
	case "tcp-nodelay":
		key = mangos.OptionNoDelay
	case "tcp-keepalive":
		key = mangos.OptionKeepAlive
	default:
		return nil, optErr(nanoact.CodeNotSupported, name, set)
	}
	if set {
		if err := e.SetOption(key, v); err != nil {
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		}
		return nil, nil
	}
	out, err := e.GetOption(key)
	if err != nil {
		return nil, optErr(nanoact.CodeNotSupported, name, set)
	}
	return out, nil
}
