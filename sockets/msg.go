package sockets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/msgpool"
)

// Msg is one received or raw-mode message.
//
// Header holds the protocol header, which only raw-mode sockets expose (a
// request id, a backtrace, a pipe id); Body is the payload; Pipe is the id
// of the pipe the message arrived on (0 for messages built locally).
//
// A Msg from Recv owns its buffers; they come from a pool, and calling Free
// once done returns them (optional: an unfreed Msg is simply collected).
type Msg struct {
	Header []byte
	Body   []byte
	Pipe   uint32

	m *mangos.Message
}

// msgPool recycles Msg wrappers released by Free.
var msgPool = sync.Pool{New: func() any { return new(Msg) }}

// NewMsg returns a message with a body of len(body) bytes copied from body,
// drawn from the message pool. It allocates nothing in the steady state.
func NewMsg(body []byte) *Msg {
	mm := msgpool.New(len(body))
	mm.Body = append(mm.Body, body...)
	m := msgPool.Get().(*Msg)
	m.Header, m.Body, m.Pipe, m.m = mm.Header, mm.Body, 0, mm
	return m
}

// Free returns m's buffers to the pool. m must not be used afterwards.
func (m *Msg) Free() {
	if m.m != nil {
		m.m.Free()
		m.m = nil
	}
	m.Header, m.Body, m.Pipe = nil, nil, 0
	msgPool.Put(m)
}

// mangosMsg returns m as a mangos message, taking ownership of its buffers.
func (m *Msg) mangosMsg() *mangos.Message {
	mm := m.m
	if mm == nil {
		mm = mangos.NewMessage(0)
	}
	mm.Header = append(mm.Header[:0], m.Header...)
	mm.Body = m.Body
	m.m, m.Header, m.Body = nil, nil, nil
	return mm
}

func wrapMsg(mm *mangos.Message) *Msg {
	m := msgPool.Get().(*Msg)
	m.Header, m.Body, m.Pipe, m.m = mm.Header, mm.Body, 0, mm
	if mm.Pipe != nil {
		m.Pipe = mm.Pipe.ID()
	}
	return m
}

// Mode is a nanonext send or receive mode. Send takes Serial (the default)
// or Raw; receives accept every mode. Its numbers are nanonext's receive
// codes (Mode(2) is Character); a send code (2 is raw for a send) goes
// through ParseSendMode.
type Mode int

// The modes, numbered as nanonext's integer mode codes.
const (
	Serial    = Mode(codec.Serial)    // the socket's Codec (CBOR by default)
	Character = Mode(codec.Character) // NUL-separated strings → []string
	Complex   = Mode(codec.Complex)   // 16-byte little-endian complex → []complex128
	Double    = Mode(codec.Double)    // 8-byte little-endian float → []float64
	Integer   = Mode(codec.Integer)   // 4-byte little-endian int → []int32
	Logical   = Mode(codec.Logical)   // 4-byte int, non-zero true → []bool
	Numeric   = Mode(codec.Numeric)   // same as Double
	Raw       = Mode(codec.Raw)       // the bytes as they are → []byte
	String    = Mode(codec.String)    // one NUL-terminated string → string
)

// String returns the mode's nanonext name.
func (m Mode) String() string { return codec.Mode(m).String() }

// ParseRecvMode parses a receive mode name with nanonext's rules for
// sockets and contexts: any unambiguous prefix ("r" raw, "d" double, "ch"
// character, "se" serial, "st" string; "c" and "s" are ambiguous), or an
// integer receive code "1" (serial) to "9" (string). Other names fail with
// ErrInvalid. It does not block and allocates only on error.
func ParseRecvMode(s string) (Mode, error) {
	m, err := codec.ParseRecvMode(s)
	return Mode(m), err
}

// ParseSendMode parses a send mode name with nanonext's send rules: any
// prefix of "serial" ("s", "se", ...) is Serial, any of "raw" ("r", "ra")
// Raw, and the integer send codes "1" and "2" are Serial and Raw. Other
// names fail with ErrInvalid. It does not block and allocates only on
// error.
func ParseSendMode(s string) (Mode, error) {
	m, err := codec.ParseSendMode(s)
	return Mode(m), err
}

// ParseMode is ParseRecvMode: it parses receive mode names.
//
// Deprecated: a mode name means different things for a send and a receive
// ("s" is serial for a send but ambiguous for a receive, "2" raw for a
// send but character for a receive); use ParseSendMode or ParseRecvMode.
func ParseMode(s string) (Mode, error) { return ParseRecvMode(s) }

func (m Mode) applySend(c *sendConfig) { c.mode = m }

// Codec marshals Go values for Serial mode; see WithCodec and
// Socket.SetCodec. A Codec sees only its own bytes: the serial marker that
// starts every serial payload is added and checked around it. The default
// is CBOR (NewCBOR for other decoding limits); Hooks adds per-type
// functions on top of a Codec (nanonext's serial_config).
//
// A Codec must be safe for concurrent use: one is shared by a socket, its
// contexts and their aios.
type Codec interface {
	// Marshal encodes v. A send returns its error wrapped in an
	// *nanoact.Error matching nanoact.ErrBadType.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to. A receive
	// returns its error inside a *nanoact.ConvertError (matching
	// nanoact.ErrBadType) that keeps the payload.
	Unmarshal(data []byte, v any) error
}

// DecodeLimits bounds what a CBOR codec decodes from one payload, so that
// a small message cannot make the receiver allocate without bound: the
// elements of an array (default 131072), the pairs of a map (131072), the
// nesting depth (32), and the memory the value may take relative to the
// payload's size (MaxExpansion, default 32 times, and at least 4 MiB; a
// negative value lifts it). Zero fields take the defaults. A payload over a
// limit is refused before it is decoded, as a *nanoact.ConvertError.
type DecodeLimits = codec.Limits

// NewCBOR returns a CBOR codec, as the default one, with other decoding
// limits; give it to WithCodec, SetCodec or runner.WithCodec. Build it
// once and share it. A limit out of range gives ErrInvalid. It does not
// block.
func NewCBOR(l DecodeLimits) (Codec, error) { return codec.NewCBOR(l) }

// Decode converts m's body to T. In Serial mode the socket's codec cd
// decodes it (nil means CBOR), provided it starts with the serial marker
// that every serial send puts first (CBOR's self-describe tag, d9 d9 f7).
// In any other mode the body is read as raw bytes by T's type, as
// nanonext's receive modes do:
//
//	[]byte        raw: the body itself (not copied; m must not be freed)
//	string        string: bytes up to a single trailing NUL
//	[]string      character: each NUL ends a string, empty ones kept
//	              (nanonext 1.10): "a\x00\x00" is ["a", ""], "" none
//	[]float64     double / numeric; float64 a single one (8 bytes)
//	[]int32       integer; int32 a single one
//	[]bool        logical; bool a single one
//	[]complex128  complex; complex128 a single one
//
// Other types in a raw mode fail with ErrBadType. A body that does not
// divide into T, a serial body without the marker (a raw message, such as
// nanonext's one-byte error reply), or one the codec refuses (malformed,
// not a T, or over the codec's decoding limits), fails with a
// *nanoact.ConvertError holding the whole body (errors.Is(err,
// nanoact.ErrBadType)), naming the operation and T, and wrapping the
// codec's error if any. Decoding allocates only the result.
func Decode[T any](m *Msg, mode Mode, cd Codec) (T, error) {
	return decode[T](m, mode, cd, "sockets: decode")
}

// decode is Decode with the operation that ConvertErrors name.
func decode[T any](m *Msg, mode Mode, cd Codec, op string) (T, error) {
	var out T
	var err error
	b := m.Body
	one := func(n int, mode string) error {
		if n != 1 {
			return &nanoact.ConvertError{Mode: mode, Data: b}
		}
		return nil
	}
	if mode == Serial {
		if err := codec.UnmarshalSerial(cd, b, &out, op); err != nil {
			var zero T
			return zero, err
		}
		return out, nil
	}
	switch p := any(&out).(type) {
	case *[]byte:
		*p = b
	case *string:
		*p, err = codec.DecodeString(b)
	case *[]string:
		*p = codec.Characters(b)
	case *[]float64:
		*p, err = codec.Float64s(b)
	case *float64:
		var v []float64
		if v, err = codec.Float64s(b); err == nil {
			if err = one(len(v), "double"); err == nil {
				*p = v[0]
			}
		}
	case *[]int32:
		*p, err = codec.Int32s(b)
	case *int32:
		var v []int32
		if v, err = codec.Int32s(b); err == nil {
			if err = one(len(v), "integer"); err == nil {
				*p = v[0]
			}
		}
	case *[]bool:
		*p, err = codec.Bools(b)
	case *bool:
		var v []bool
		if v, err = codec.Bools(b); err == nil {
			if err = one(len(v), "logical"); err == nil {
				*p = v[0]
			}
		}
	case *[]complex128:
		*p, err = codec.Complex128s(b)
	case *complex128:
		var v []complex128
		if v, err = codec.Complex128s(b); err == nil {
			if err = one(len(v), "complex"); err == nil {
				*p = v[0]
			}
		}
	default:
		err = nanoact.Errorf(nanoact.CodeBadType, "sockets: decode", "%T cannot be received in %s mode", out, mode)
	}
	if err != nil {
		var ce *nanoact.ConvertError
		if errors.As(err, &ce) {
			ce.Op, ce.Type = op, fmt.Sprintf("%T", out)
		}
		var zero T
		return zero, err
	}
	return out, nil
}

// DecodeMode converts m's body by a nanonext receive mode, returning the
// same Go types as Decode ([]string for Character, []float64 for Double and
// Numeric, []int32, []bool, []complex128, []byte for Raw, string, and for
// Serial the value decoded into an any).
func DecodeMode(m *Msg, mode Mode, cd Codec) (any, error) {
	switch mode {
	case Character:
		return Decode[[]string](m, mode, cd)
	case Complex:
		return Decode[[]complex128](m, mode, cd)
	case Double, Numeric:
		return Decode[[]float64](m, mode, cd)
	case Integer:
		return Decode[[]int32](m, mode, cd)
	case Logical:
		return Decode[[]bool](m, mode, cd)
	case Raw:
		return Decode[[]byte](m, mode, cd)
	case String:
		return Decode[string](m, mode, cd)
	}
	return Decode[any](m, Serial, cd)
}

// Conn is what can send and receive messages: a *Socket, a *Context or a
// *Stream implements it. aio and rpc accept any Conn.
type Conn interface {
	// Send encodes v (in the connection's send mode, Serial unless set
	// otherwise, or the Mode given: Serial or Raw) and sends it.
	Send(ctx context.Context, v any, opts ...SendOption) error
	// SendMsg sends m, taking ownership of it on success; the caller
	// may still Free (or reuse) m afterwards, which returns its wrapper
	// to the pool.
	SendMsg(ctx context.Context, m *Msg) error
	// RecvMsg receives one message.
	RecvMsg(ctx context.Context) (*Msg, error)
	// Codec returns the codec for Serial mode.
	Codec() Codec
}

// RecvOption configures a typed receive: a Mode.
type RecvOption interface{ applyRecv(*recvConfig) }

type recvConfig struct{ mode Mode }

func (m Mode) applyRecv(c *recvConfig) { c.mode = m }

// RecvAs receives one message from c and decodes it as T: with the
// connection's codec by default (the counterpart of Send without a mode),
// or, given Raw (or any raw mode), from raw bytes by T's type (the
// counterpart of Send with Raw); see Decode. It blocks as c's RecvMsg does
// (see the package doc on blocking).
func RecvAs[T any](ctx context.Context, c Conn, opts ...RecvOption) (T, error) {
	rc := recvConfig{mode: Serial}
	for _, o := range opts {
		o.applyRecv(&rc)
	}
	m, err := c.RecvMsg(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return take[T](m, rc.mode, c.Codec(), "sockets: recv")
}

// shareOver is the size above which Take hands a raw body over as a []byte
// without copying it; smaller ones are copied, so that the message's
// buffers go back to the pool.
const shareOver = 4 << 10

// Take decodes m as Decode does and takes ownership of m: it is freed,
// its buffers back in the pool, once the value is made. The exception is
// T = []byte in a raw mode with a body over 4 KiB, which the value shares
// instead of copying (m is then left to the garbage collector). Small raw
// bodies are copied: one small allocation, where keeping the message out
// of the pool would cost three. A *ConvertError holds its own copy of the
// bytes. Take never blocks; it allocates what Decode does, plus the copy
// of a small raw body.
func Take[T any](m *Msg, mode Mode, cd Codec) (T, error) {
	return take[T](m, mode, cd, "sockets: decode")
}

// take is Take with the operation that ConvertErrors name.
func take[T any](m *Msg, mode Mode, cd Codec, op string) (T, error) {
	var zero T
	if _, isBytes := any(zero).([]byte); isBytes && mode != Serial {
		if len(m.Body) > shareOver {
			return any(m.Body).(T), nil
		}
		b := make([]byte, len(m.Body))
		copy(b, m.Body)
		m.Free()
		return any(b).(T), nil
	}
	v, err := decode[T](m, mode, cd, op)
	var ce *nanoact.ConvertError
	if errors.As(err, &ce) {
		ce.Data = bytes.Clone(ce.Data)
	}
	m.Free()
	return v, err
}
