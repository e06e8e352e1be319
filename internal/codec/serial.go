package codec

import (
	"bytes"
	"errors"
	"reflect"
	"sync"

	"github.com/nanoact/nanoact"
)

// Marker is the 3-byte prefix of every serial-mode payload: CBOR's
// self-describe tag 55799 (RFC 8949 §3.4.6), d9 d9 f7. It plays the part of
// the header nanonext's serial mode checks before unserialising: a payload
// without it was not sent in serial mode (a raw reply, nanonext's error
// byte, a C peer's message) and is returned as bytes with a conversion
// error rather than decoded by chance. Any CBOR reader skips the tag, so
// with the CBOR codec the marked payload is itself plain CBOR.
const Marker = "\xd9\xd9\xf7"

// errNoMarker is the cause of a ConvertError for an unmarked payload.
var errNoMarker = errors.New("no serial marker (d9 d9 f7): the payload was not sent in serial mode")

// IsSerial reports whether b starts with Marker. It does not allocate.
func IsSerial(b []byte) bool { return len(b) >= len(Marker) && string(b[:len(Marker)]) == Marker }

// appender is implemented by the package's codecs, which append prefix
// and the encoding of v to a caller's slice without an allocation of their
// own.
type appender interface {
	appendMarshal(dst []byte, prefix string, v any) ([]byte, error)
}

// AppendSerial appends the serial-mode payload of v to dst: Marker, then
// cd's encoding of v (cd nil means CBOR()). It returns cd's error (an
// *nanoact.Error matching nanoact.ErrBadType for CBOR) and dst unchanged
// on failure (bytes past its length may have been written). With this
// package's codecs it allocates nothing when dst has room for the payload
// (it encodes straight into a dst with 64 bytes or more to spare, and
// otherwise into a pooled buffer that it copies); with another Codec it
// costs that codec's Marshal and a copy. It does not block.
func AppendSerial(dst []byte, cd Codec, v any) ([]byte, error) {
	if cd == nil {
		cd = CBOR()
	}
	out, err := appendEncode(cd, dst, Marker, v)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// appendEncode appends prefix and cd's encoding of v to dst.
func appendEncode(cd Codec, dst []byte, prefix string, v any) ([]byte, error) {
	if a, ok := cd.(appender); ok {
		return a.appendMarshal(dst, prefix, v)
	}
	b, err := cd.Marshal(v)
	if err != nil {
		return dst, err
	}
	if dst == nil && prefix == "" {
		return b, nil
	}
	return append(append(dst, prefix...), b...), nil
}

// UnmarshalSerial decodes the serial-mode payload b into the value v
// points to with cd (nil means CBOR()). A payload without Marker, or one
// that cd refuses (malformed, of the wrong type, over the codec's Limits),
// gives a *nanoact.ConvertError with Mode "serial", Op op, Type the Go
// type v points to, Data b itself (not a copy) and Err the cause; it
// matches nanoact.ErrBadType. UnmarshalSerial does not block; it allocates
// what cd's Unmarshal does.
func UnmarshalSerial(cd Codec, b []byte, v any, op string) error {
	if cd == nil {
		cd = CBOR()
	}
	var err error
	if !IsSerial(b) {
		err = errNoMarker
	} else if err = cd.Unmarshal(b[len(Marker):], v); err == nil {
		return nil
	}
	return &nanoact.ConvertError{Mode: "serial", Op: op, Type: typeName(v), Data: b, Err: err}
}

// typeName is the name of the type v points to, for error messages.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "<nil>"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.String()
}

// encBufs holds the buffers appendMarshal encodes into; buffers grown
// beyond maxPooled are left to the collector rather than kept.
var encBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooled = 1 << 20

// directRoom is the spare capacity of dst from which appendMarshal
// encodes straight into dst: a caller that sized dst for the payload
// (sockets does, from the value's type) saves the copy, and the pooled
// buffer, which sync.Pool loses at each garbage collection, is not needed.
const directRoom = 64

// appendMarshal appends prefix and v's encoding straight to dst when it
// has room to spare, and otherwise encodes them into a pooled buffer that
// it then appends to dst, so that a dst with room for the payload costs no
// allocation and a nil dst one, of the payload's size.
func (c *cborCodec) appendMarshal(dst []byte, prefix string, v any) ([]byte, error) {
	if c.err != nil {
		return dst, c.err
	}
	buf := encBufs.Get().(*bytes.Buffer)
	direct := cap(dst)-len(dst) >= directRoom+len(prefix)
	if direct {
		*buf = *bytes.NewBuffer(append(dst, prefix...)) // writes go after dst's bytes, in its array
	} else {
		buf.Reset()
		buf.WriteString(prefix)
	}
	err := c.em.MarshalToBuffer(v, buf)
	out := dst
	if err == nil {
		if direct {
			out = buf.Bytes()
		} else {
			out = append(dst, buf.Bytes()...)
		}
	}
	if direct {
		*buf = bytes.Buffer{} // drop the caller's array
	}
	if buf.Cap() <= maxPooled {
		encBufs.Put(buf)
	}
	if err != nil {
		return dst, &nanoact.Error{Code: nanoact.CodeBadType, Op: opMarshal, Err: err}
	}
	return out, nil
}
