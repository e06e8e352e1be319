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
	em cbor.EncMode
	dm cbor.DecMode
	// dmAnyKeys decodes maps into an interface as map[any]any; used when dm
	// fails on a map with a non-string key (see CBOR).
	dmAnyKeys cbor.DecMode
	err       error
}

var defaultCBOR = sync.OnceValue(newCBOR)

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
// round-trips. Arrays and maps may be as long as the message allows;
// nesting is limited to 256 levels.
//
// Marshal errors are *nanoact.Error values matching nanoact.ErrBadType
// (unsupported types such as channels); Unmarshal errors match
// nanoact.ErrBadType for malformed or mismatched data and nanoact.ErrInvalid
// for a destination that is not a non-nil pointer. Both wrap cbor/v2's error,
// which errors.As can extract.
func CBOR() Codec {
	return defaultCBOR()
}

func cborDecOptions(mapType reflect.Type) cbor.DecOptions {
	return cbor.DecOptions{
		DefaultMapType:   mapType,
		IntDec:           cbor.IntDecConvertSignedOrBigInt,
		BigIntDec:        cbor.BigIntDecodePointer,
		UTF8:             cbor.UTF8DecodeInvalid,
		MaxNestedLevels:  256,
		MaxArrayElements: 2147483647,
		MaxMapPairs:      2147483647,
	}
}

func newCBOR() Codec {
	var c cborCodec
	var errs [3]error
	c.em, errs[0] = cbor.EncOptions{
		NaNConvert: cbor.NaNConvertNone,
		InfConvert: cbor.InfConvertNone,
		Time:       cbor.TimeRFC3339Nano,
		TimeTag:    cbor.EncTagRequired,
	}.EncMode()
	c.dm, errs[1] = cborDecOptions(reflect.TypeFor[map[string]any]()).DecMode()
	c.dmAnyKeys, errs[2] = cborDecOptions(reflect.TypeFor[map[any]any]()).DecMode()
	if err := errors.Join(errs[:]...); err != nil {
		// Unreachable with the constant options above; reported, not panicked.
		c.err = &nanoact.Error{Code: nanoact.CodeInternal, Op: "codec: cbor options", Err: err}
	}
	return &c
}

// Marshal encodes v as CBOR.
func (c *cborCodec) Marshal(v any) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	b, err := c.em.Marshal(v)
	if err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: opMarshal, Err: err}
	}
	return b, nil
}

// Unmarshal decodes CBOR data into the value v points to.
func (c *cborCodec) Unmarshal(data []byte, v any) error {
	if c.err != nil {
		return c.err
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
