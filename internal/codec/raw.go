package codec

import (
	"encoding/binary"
	"math"
	"reflect"
	"slices"

	"github.com/nanoact/nanoact"
)

const opEncodeRaw = "codec: encode raw"

// EncodeRaw returns the raw-mode encoding of v in a new slice; it is
// AppendRaw(nil, v), so see AppendRaw for the supported types and errors.
// It does not block and makes one allocation (none for nil or empty input).
func EncodeRaw(v any) ([]byte, error) {
	return AppendRaw(nil, v)
}

// AppendRaw appends the raw-mode encoding of v to dst and returns the
// extended slice, as nanonext's send(mode = "raw") lays out an R atomic
// vector, always little-endian:
//
//	nil                         nothing (a zero-length message)
//	[]byte                      the bytes as they are
//	string                      the bytes and one terminating NUL
//	[]string                    each string and a NUL, concatenated
//	float64, []float64          8 bytes each (IEEE-754, NaN payloads kept)
//	float32, []float32          widened to float64, 8 bytes each (R has no
//	                            single-precision vector)
//	int32, []int32              4 bytes each; math.MinInt32 is R's NA
//	int, int64, []int, []int64  4 bytes each, as int32
//	bool, []bool                4 bytes each, 1 or 0, as an R logical
//	complex128, []complex128    16 bytes each, real part then imaginary
//	complex64, []complex64      widened to complex128, 16 bytes each
//
// A value whose type is defined on one of these (type Celsius float64,
// type Names []string, arrays such as [4]float64) is encoded as that type,
// through reflection. A string containing a NUL is sent as is, so the
// receiving side splits it there.
//
// AppendRaw returns an *nanoact.Error matching nanoact.ErrBadType for any
// other type (maps, structs, pointers, unsigned integers, a single byte...)
// and one matching nanoact.ErrInvalid when an int or int64 does not fit in
// an int32. On error it returns dst unchanged, though bytes past its length
// may have been written.
//
// AppendRaw does not block. It allocates nothing when dst has room for the
// encoding and v is one of the types listed above (the reflective path for
// defined types may allocate); otherwise it grows dst once.
func AppendRaw(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return dst, nil
	case []byte:
		return append(dst, x...), nil
	case string:
		return append(append(dst, x...), 0), nil
	case []string:
		return appendStrings(dst, x), nil
	case float64:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(x)), nil
	case []float64:
		return appendFloat64s(dst, x), nil
	case float32:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(float64(x))), nil
	case []float32:
		return appendFloat64s(dst, x), nil
	case int32:
		return binary.LittleEndian.AppendUint32(dst, uint32(x)), nil
	case []int32:
		return appendInt32s(dst, x), nil
	case int:
		return appendInts(dst, []int{x})
	case []int:
		return appendInts(dst, x)
	case int64:
		return appendInts(dst, []int64{x})
	case []int64:
		return appendInts(dst, x)
	case bool:
		return binary.LittleEndian.AppendUint32(dst, boolBits(x)), nil
	case []bool:
		dst = slices.Grow(dst, 4*len(x))
		for _, b := range x {
			dst = binary.LittleEndian.AppendUint32(dst, boolBits(b))
		}
		return dst, nil
	case complex128:
		return appendComplexes(dst, []complex128{x}), nil
	case []complex128:
		return appendComplexes(dst, x), nil
	case complex64:
		return appendComplexes(dst, []complex64{x}), nil
	case []complex64:
		return appendComplexes(dst, x), nil
	}
	return appendReflect(dst, reflect.ValueOf(v))
}

func boolBits(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func appendStrings(dst []byte, ss []string) []byte {
	n := len(ss)
	for _, s := range ss {
		n += len(s)
	}
	dst = slices.Grow(dst, n)
	for _, s := range ss {
		dst = append(append(dst, s...), 0)
	}
	return dst
}

func appendFloat64s[F float32 | float64](dst []byte, xs []F) []byte {
	dst = slices.Grow(dst, 8*len(xs))
	for _, x := range xs {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(float64(x)))
	}
	return dst
}

func appendInt32s(dst []byte, xs []int32) []byte {
	dst = slices.Grow(dst, 4*len(xs))
	for _, x := range xs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(x))
	}
	return dst
}

// appendInts checks every element before writing any, so that an error
// leaves dst as it was.
func appendInts[I int | int64](dst []byte, xs []I) ([]byte, error) {
	for i, x := range xs {
		if int64(x) < math.MinInt32 || int64(x) > math.MaxInt32 {
			return dst, rangeError(int64(x), i)
		}
	}
	dst = slices.Grow(dst, 4*len(xs))
	for _, x := range xs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(int32(x)))
	}
	return dst, nil
}

func appendComplexes[C complex64 | complex128](dst []byte, xs []C) []byte {
	dst = slices.Grow(dst, 16*len(xs))
	for _, x := range xs {
		c := complex128(x)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(real(c)))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(imag(c)))
	}
	return dst
}

func rangeError(x int64, i int) error {
	return nanoact.Errorf(nanoact.CodeInvalid, opEncodeRaw,
		"element %d (%d) does not fit in an int32 (R integer)", i, x)
}

func badTypeError(t reflect.Type) error {
	name := "<nil>"
	if t != nil {
		name = t.String()
	}
	return nanoact.Errorf(nanoact.CodeBadType, opEncodeRaw,
		"cannot send a %s in raw mode: want nil, []byte, a string, a number, a bool, a complex, or a slice or array of those", name)
}

// appendReflect handles defined types whose underlying type is supported.
func appendReflect(dst []byte, rv reflect.Value) ([]byte, error) {
	if !rv.IsValid() {
		return dst, nil
	}
	if out, ok, err := appendScalar(dst, rv, 0); ok {
		return out, err
	}
	if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
		return dst, badTypeError(rv.Type())
	}
	ek := rv.Type().Elem().Kind()
	switch ek {
	case reflect.Uint8:
		if rv.Kind() == reflect.Slice {
			return append(dst, rv.Bytes()...), nil
		}
		out := slices.Grow(dst, rv.Len())
		for i := range rv.Len() {
			out = append(out, byte(rv.Index(i).Uint()))
		}
		return out, nil
	case reflect.String, reflect.Float32, reflect.Float64, reflect.Int32, reflect.Int,
		reflect.Int64, reflect.Bool, reflect.Complex64, reflect.Complex128:
	default:
		return dst, badTypeError(rv.Type())
	}
	out := dst
	for i := range rv.Len() {
		var err error
		out, _, err = appendScalar(out, rv.Index(i), i)
		if err != nil {
			return dst, err
		}
	}
	return out, nil
}

// appendScalar appends one element of a supported kind; ok is false when
// rv's kind is not a scalar kind raw mode knows.
func appendScalar(dst []byte, rv reflect.Value, i int) (out []byte, ok bool, err error) {
	switch rv.Kind() {
	case reflect.String:
		return append(append(dst, rv.String()...), 0), true, nil
	case reflect.Float32, reflect.Float64:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(rv.Float())), true, nil
	case reflect.Int32:
		return binary.LittleEndian.AppendUint32(dst, uint32(int32(rv.Int()))), true, nil
	case reflect.Int, reflect.Int64:
		x := rv.Int()
		if x < math.MinInt32 || x > math.MaxInt32 {
			return dst, true, rangeError(x, i)
		}
		return binary.LittleEndian.AppendUint32(dst, uint32(int32(x))), true, nil
	case reflect.Bool:
		return binary.LittleEndian.AppendUint32(dst, boolBits(rv.Bool())), true, nil
	case reflect.Complex64, reflect.Complex128:
		c := rv.Complex()
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(real(c)))
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(imag(c))), true, nil
	}
	return dst, false, nil
}

// Topic returns the bytes a sub socket matches for subscribe(topic), as
// nanonext computes them (subscribe(con, topic)): the raw-mode encoding of v
// (see AppendRaw) without the final NUL when v is a string or a vector of
// strings. So "examples" gives the 8 bytes "examples", []string{"a", "b"}
// gives "a\x00b", 2.0 its 8 IEEE-754 bytes, int32(2) 4 bytes, true the 4
// bytes 01 00 00 00, and a []byte a copy of itself. nil and an empty value
// give an empty, non-nil topic, which matches every message.
//
// Topic returns the errors of AppendRaw for unsupported values. It does not
// block and makes one allocation.
func Topic(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return []byte{}, nil
	case string:
		return append([]byte{}, x...), nil
	case []byte:
		return append([]byte{}, x...), nil
	}
	b, err := AppendRaw([]byte{}, v)
	if err != nil {
		return nil, err
	}
	if isCharacter(reflect.TypeOf(v)) && len(b) > 0 {
		b = b[:len(b)-1]
	}
	return b, nil
}

// isCharacter reports whether t encodes as an R character vector.
func isCharacter(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		return true
	case reflect.Slice, reflect.Array:
		return t.Elem().Kind() == reflect.String
	}
	return false
}
