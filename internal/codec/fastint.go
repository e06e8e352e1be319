package codec

import (
	"encoding/binary"
	"math"
)

// The integer fast path: a bare integer (the argument or result of many a
// task, an id, a count) is encoded and decoded here without cbor/v2's
// reflection. It gives exactly cbor/v2's bytes (the shortest head) and
// values; anything else, or an integer in a form it does not take (a
// longer head than needed, trailing bytes, a value out of range), goes to
// cbor/v2, which decides.

// marshalInt appends the CBOR of v if v is a Go integer, and reports
// whether it was.
func marshalInt(v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return appendInt(int64(x)), true
	case int64:
		return appendInt(x), true
	case int32:
		return appendInt(int64(x)), true
	case uint64:
		return newHead(0, x), true
	case uint:
		return newHead(0, uint64(x)), true
	}
	return nil, false
}

func appendInt(x int64) []byte {
	if x < 0 {
		return newHead(1, uint64(-1-x))
	}
	return newHead(0, uint64(x))
}

// newHead returns the shortest CBOR head of major type major and argument
// n in a slice of its exact size (a queued task keeps it).
func newHead(major byte, n uint64) []byte {
	size := 9
	switch {
	case n < 24:
		size = 1
	case n <= math.MaxUint8:
		size = 2
	case n <= math.MaxUint16:
		size = 3
	case n <= math.MaxUint32:
		size = 5
	}
	return AppendHead(make([]byte, 0, size), major, n)
}

// AppendHead appends to b the CBOR head (RFC 8949 §3) of major type major
// (0 to 7) and argument n in its shortest form, as cbor/v2 writes it, and
// returns the extended slice: for code that writes CBOR by hand (the task
// runner's frames). It never fails; it allocates only to grow b.
func AppendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// unmarshalInt decodes data into v if v points to a Go int or int64 and
// data is one integer in its shortest form that fits; it reports whether
// it did (false: nothing was written).
func unmarshalInt(data []byte, v any) bool {
	switch p := v.(type) {
	case *int:
		if x, ok := readInt(data); ok && x >= math.MinInt && x <= math.MaxInt {
			*p = int(x)
			return true
		}
	case *int64:
		if x, ok := readInt(data); ok {
			*p = x
			return true
		}
	}
	return false
}

// readInt reads data as one CBOR integer (major type 0 or 1) in its
// shortest form that fits an int64.
func readInt(data []byte) (int64, bool) {
	if len(data) == 0 {
		return 0, false
	}
	major, info := data[0]>>5, data[0]&31
	if major > 1 {
		return 0, false
	}
	var n uint64
	switch {
	case info < 24 && len(data) == 1:
		n = uint64(info)
	case info == 24 && len(data) == 2 && data[1] >= 24:
		n = uint64(data[1])
	case info == 25 && len(data) == 3:
		n = uint64(binary.BigEndian.Uint16(data[1:]))
		if n <= math.MaxUint8 {
			return 0, false
		}
	case info == 26 && len(data) == 5:
		n = uint64(binary.BigEndian.Uint32(data[1:]))
		if n <= math.MaxUint16 {
			return 0, false
		}
	case info == 27 && len(data) == 9:
		n = binary.BigEndian.Uint64(data[1:])
		if n <= math.MaxUint32 {
			return 0, false
		}
	default:
		return 0, false
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	if major == 1 {
		return -1 - int64(n), true
	}
	return int64(n), true
}
