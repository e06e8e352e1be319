package codec

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"

	"github.com/nanoact/nanoact"
)

// Characters decodes a payload in "character" mode as nanonext 1.10 does:
// every NUL ends one string, and a final segment without a NUL is one more,
// so the strings that AppendRaw wrote come back exactly, empty ones
// included. "a\x00\x00\x00" gives ["a", "", ""], R's c("a", "bc", "")
// ("a\x00bc\x00\x00") gives ["a", "bc", ""], "a\x00b" gives ["a", "b"],
// a lone NUL gives [""] and an empty payload no string at all (an empty,
// non-nil slice).
//
// Characters never fails, does not block and makes two allocations for a
// non-empty payload: one string holding all the bytes, which the elements
// share, and the slice.
func Characters(b []byte) []string {
	if len(b) == 0 {
		return []string{}
	}
	if b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return strings.Split(string(b), "\x00")
}

// DecodeString decodes a payload in nanonext's "string" mode: the
// bytes up to the first NUL. (It cannot be called String: that name is the
// Mode constant.) The payload is valid when it has no NUL, or only one as
// its last byte; otherwise DecodeString returns "" and a *nanoact.ConvertError
// with Mode "string" whose Data is b itself (not a copy), matching
// nanoact.ErrBadType. DecodeString does not block and makes one allocation for
// a non-empty result.
func DecodeString(b []byte) (string, error) {
	i := bytes.IndexByte(b, 0)
	switch i {
	case -1:
		return string(b), nil
	case len(b) - 1:
		return string(b[:i]), nil
	}
	return "", &nanoact.ConvertError{Mode: "string", Data: b}
}

// Float64s decodes a payload in "double" mode: 8 little-endian bytes per
// float64, NaN payloads (such as R's NA) kept bit for bit. A length that is
// not a multiple of 8 gives a nil slice and a *nanoact.ConvertError with
// Mode "double" and Data b (not a copy), matching nanoact.ErrBadType; an
// empty payload gives an empty, non-nil slice. The "numeric" mode decodes
// the same way. Float64s does not block and makes one allocation; use
// AppendFloat64s to decode into a reused slice.
func Float64s(b []byte) ([]float64, error) {
	return AppendFloat64s(nil, b)
}

// AppendFloat64s is Float64s appending to dst. On error it returns dst
// unchanged. It allocates only when dst lacks room (a nil dst and an empty
// b give an empty, non-nil slice).
func AppendFloat64s(dst []float64, b []byte) ([]float64, error) {
	if len(b)%8 != 0 {
		return dst, &nanoact.ConvertError{Mode: "double", Data: b}
	}
	dst = grow(dst, len(b)/8)
	for i := 0; i+8 <= len(b); i += 8 {
		dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
	}
	return dst, nil
}

// Int32s decodes a payload in "integer" mode: 4 little-endian bytes per
// int32, math.MinInt32 being R's NA. A length that is not a multiple of 4
// gives a nil slice and a *nanoact.ConvertError with Mode "integer" and Data
// b (not a copy); an empty payload gives an empty, non-nil slice. Int32s does
// not block and makes one allocation; AppendInt32s reuses a slice.
func Int32s(b []byte) ([]int32, error) {
	return AppendInt32s(nil, b)
}

// AppendInt32s is Int32s appending to dst. On error it returns dst
// unchanged. It allocates only when dst lacks room.
func AppendInt32s(dst []int32, b []byte) ([]int32, error) {
	if len(b)%4 != 0 {
		return dst, &nanoact.ConvertError{Mode: "integer", Data: b}
	}
	dst = grow(dst, len(b)/4)
	for i := 0; i+4 <= len(b); i += 4 {
		dst = append(dst, int32(binary.LittleEndian.Uint32(b[i:])))
	}
	return dst, nil
}

// Bools decodes a payload in "logical" mode: 4 little-endian bytes per
// value, 0 being false and anything else true. R's NA (math.MinInt32) has
// no Go bool and becomes true; decode with Int32s to tell it apart. A length
// that is not a multiple of 4 gives a nil slice and a *nanoact.ConvertError
// with Mode "logical" and Data b (not a copy); an empty payload gives an
// empty, non-nil slice. Bools does not block and makes one allocation;
// AppendBools reuses a slice.
func Bools(b []byte) ([]bool, error) {
	return AppendBools(nil, b)
}

// AppendBools is Bools appending to dst. On error it returns dst unchanged.
// It allocates only when dst lacks room.
func AppendBools(dst []bool, b []byte) ([]bool, error) {
	if len(b)%4 != 0 {
		return dst, &nanoact.ConvertError{Mode: "logical", Data: b}
	}
	dst = grow(dst, len(b)/4)
	for i := 0; i+4 <= len(b); i += 4 {
		dst = append(dst, binary.LittleEndian.Uint32(b[i:]) != 0)
	}
	return dst, nil
}

// Complex128s decodes a payload in "complex" mode: 16 little-endian bytes
// per value, the real part first. A length that is not a multiple of 16
// gives a nil slice and a *nanoact.ConvertError with Mode "complex" and
// Data b (not a copy); an empty payload gives an empty, non-nil slice.
// Complex128s does not block and makes one allocation; AppendComplex128s
// reuses a slice.
func Complex128s(b []byte) ([]complex128, error) {
	return AppendComplex128s(nil, b)
}

// AppendComplex128s is Complex128s appending to dst. On error it returns
// dst unchanged. It allocates only when dst lacks room.
func AppendComplex128s(dst []complex128, b []byte) ([]complex128, error) {
	if len(b)%16 != 0 {
		return dst, &nanoact.ConvertError{Mode: "complex", Data: b}
	}
	dst = grow(dst, len(b)/16)
	for i := 0; i+16 <= len(b); i += 16 {
		re := math.Float64frombits(binary.LittleEndian.Uint64(b[i:]))
		im := math.Float64frombits(binary.LittleEndian.Uint64(b[i+8:]))
		dst = append(dst, complex(re, im))
	}
	return dst, nil
}

// grow makes room for n more elements and never returns nil, so that an
// empty payload decodes to an empty, non-nil slice.
func grow[T any](dst []T, n int) []T {
	if dst == nil {
		return make([]T, 0, n)
	}
	return slices.Grow(dst, n)
}
