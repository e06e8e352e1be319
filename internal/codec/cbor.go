package codec

import (
	"errors"
	"reflect"
	"sync"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
)

// Codec marshals Go values for "serial" mode. Implementations must be safe
// for concurrent use. Marshal returns a new slice the caller owns;
// Unmarshal must not retain data after it returns.
//
// Codec takes and returns any because a serial payload carries a value of
// any type, as R's serialisation does; typed receives use the raw decoders.
// A Codec sees only its own bytes: AppendSerial puts Marker before them
// and UnmarshalSerial checks and strips it.
type Codec interface {
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
}

const (
	opMarshal   = "codec: marshal"
	opUnmarshal = "codec: unmarshal"
)

// cborCodec is the CBOR Codec. Its modes are immutable and safe for
// concurrent use.
type cborCodec struct {
	em cbor.UserBufferEncMode
	dm cbor.DecMode
	// dmAnyKeys decodes maps into an interface as map[any]any; used when dm
	// fails on a map with a non-string key (see CBOR).
	dmAnyKeys cbor.DecMode
	limits    Limits
	err       error
}

var defaultCBOR = sync.OnceValue(func() Codec {
	c, _ := newCBOR(Limits{}) // the default limits are valid; an error would be kept in c.err
	return c
})

// CBOR returns the default serial Codec: RFC 8949 CBOR through
// github.com/fxamacker/cbor/v2, with encoding and decoding modes built once
// per process on first use and shared by every caller; CBOR itself does not
// allocate after the first call. The Codec never blocks.
//
// Encoding keeps Go types as CBOR sees them (struct fields by name or cbor
// and json tags, maps unsorted) and keeps float64 values exactly: NaN
// payloads such as R's NA and infinities are not shortened. time.Time is
// written as an RFC 3339 string with nanoseconds under tag 0.
//
// Decoding into a typed destination follows cbor/v2. Decoding into an
// interface (any) gives:
//
//   - int64 for every integer that fits, *big.Int beyond;
//   - float64, string, []byte, bool, nil, []any, time.Time;
//   - map[string]any for maps, unless the message holds a map with a key
//     that is not a string where an interface is decoded: then the whole
//     message is decoded again with map[any]any for its maps;
//   - cbor.Tag for tags the codec does not know (see Hooks).
//
// Text strings that are not valid UTF-8 are accepted, so every Go string
// round-trips. Decoding is bounded by the default Limits: 131072 elements
// per array and pairs per map, 32 levels of nesting, and an estimated
// decoded size of at most 32 times the payload (4 MiB for any payload);
// NewCBOR sets other limits.
//
// Marshal errors are *nanoact.Error values matching nanoact.ErrBadType
// (unsupported types such as channels); Unmarshal errors match
// nanoact.ErrBadType for malformed or mismatched data and nanoact.ErrInvalid
// for a destination that is not a non-nil pointer. Both wrap cbor/v2's error,
// which errors.As can extract.
func CBOR() Codec {
	return defaultCBOR()
}

// NewCBOR returns a CBOR Codec as CBOR() does, with l bounding what it
// decodes (zero fields take the defaults; see Limits). Build it once and
// share it: each call builds new encoding and decoding modes (a few
// microseconds). A field out of range gives an *nanoact.Error matching
// nanoact.ErrInvalid. NewCBOR does not block.
func NewCBOR(l Limits) (Codec, error) {
	l, err := l.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := newCBOR(l)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func cborDecOptions(mapType reflect.Type, l Limits) cbor.DecOptions {
	return cbor.DecOptions{
		DefaultMapType:   mapType,
		IntDec:           cbor.IntDecConvertSignedOrBigInt,
		BigIntDec:        cbor.BigIntDecodePointer,
		UTF8:             cbor.UTF8DecodeInvalid,
		MaxNestedLevels:  l.MaxNestedLevels,
		MaxArrayElements: l.MaxArrayElements,
		MaxMapPairs:      l.MaxMapPairs,
	}
}

// newCBOR builds the codec for l (defaults filled in by withDefaults when
// l is the zero Limits). The returned codec carries any error, too.
func newCBOR(l Limits) (*cborCodec, error) {
	l, err := l.withDefaults()
	c := cborCodec{limits: l}
	if err != nil {
		c.err = err
		return &c, err
	}
	var errs [3]error
	c.em, errs[0] = cbor.EncOptions{
		NaNConvert: cbor.NaNConvertNone,
		InfConvert: cbor.InfConvertNone,
		Time:       cbor.TimeRFC3339Nano,
		TimeTag:    cbor.EncTagRequired,
	}.UserBufferEncMode()
	c.dm, errs[1] = cborDecOptions(reflect.TypeFor[map[string]any](), l).DecMode()
	c.dmAnyKeys, errs[2] = cborDecOptions(reflect.TypeFor[map[any]any](), l).DecMode()
	if err := errors.Join(errs[:]...); err != nil {
		// Unreachable with options checked by withDefaults; reported, not panicked.
		c.err = &nanoact.Error{Code: nanoact.CodeInternal, Op: "codec: cbor options", Err: err}
	}
	return &c, c.err
}

// Marshal encodes v as CBOR. A bare Go integer takes a fast path without
// reflection (fastint.go), with the same bytes, about 4x faster.
func (c *cborCodec) Marshal(v any) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	if b, ok := marshalInt(v); ok {
		return b, nil
	}
	b, err := c.em.Marshal(v)
	if err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: opMarshal, Err: err}
	}
	return b, nil
}

// Unmarshal decodes CBOR data into the value v points to. One shortest
// integer into an *int or *int64 takes a fast path without reflection.
func (c *cborCodec) Unmarshal(data []byte, v any) error {
	if c.err != nil {
		return c.err
	}
	if unmarshalInt(data, v) {
		return nil
	}
	if budget := c.limits.budget(len(data)); budget >= 0 {
		if DecodedSize(data, budget) > budget {
			return nanoact.Errorf(nanoact.CodeBadType, opUnmarshal,
				"%d bytes would decode to more than %d bytes (Limits.MaxExpansion is %d)",
				len(data), budget, c.limits.MaxExpansion)
		}
	}
	err := c.dm.Unmarshal(data, v)
	if err != nil && isStringKeyError(err) {
		if c.dmAnyKeys.Unmarshal(data, v) == nil {
			return nil
		}
	}
	if err != nil {
		return unmarshalError(err)
	}
	return nil
}

// isStringKeyError reports whether err may come from a map key that is not
// a string being decoded into the map[string]any of an interface.
func isStringKeyError(err error) bool {
	var te *cbor.UnmarshalTypeError
	return errors.As(err, &te) && te.GoType == "string"
}

func unmarshalError(err error) error {
	code := nanoact.CodeBadType
	var ie *cbor.InvalidUnmarshalError
	if errors.As(err, &ie) {
		code = nanoact.CodeInvalid
	}
	return &nanoact.Error{Code: code, Op: opUnmarshal, Err: err}
}
