package codec

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// fastInts are the edges of every CBOR head length, both signs.
var fastInts = []int64{0, 1, 23, 24, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
	-1, -24, -25, -256, -257, -65536, -65537, -math.MaxUint32 - 1, -math.MaxUint32 - 2, math.MinInt64}

// TestFastIntMarshal checks that the integer fast path writes exactly
// cbor/v2's bytes, for every integer type it takes.
func TestFastIntMarshal(t *testing.T) {
	for _, x := range fastInts {
		vals := []any{x, int(x)}
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			vals = append(vals, int32(x))
		}
		if x >= 0 {
			vals = append(vals, uint64(x), uint(x))
		}
		for _, v := range vals {
			got, ok := marshalInt(v)
			want, err := cbor.Marshal(v)
			if !ok || err != nil || !bytes.Equal(got, want) {
				t.Errorf("%T %v: fast % x (%v), cbor/v2 % x (%v)", v, v, got, ok, want, err)
			}
		}
	}
	got, ok := marshalInt(uint64(math.MaxUint64))
	if want, _ := cbor.Marshal(uint64(math.MaxUint64)); !ok || !bytes.Equal(got, want) {
		t.Errorf("MaxUint64: fast % x, cbor/v2 % x", got, want)
	}
	if _, ok := marshalInt("7"); ok {
		t.Error("a string took the integer fast path")
	}
}

// TestFastIntUnmarshal checks that whatever the fast path decodes,
// cbor/v2 decodes to the same value, and that it leaves to cbor/v2 what
// is not one shortest integer (longer heads, trailing bytes, other types,
// values out of range).
func TestFastIntUnmarshal(t *testing.T) {
	var inputs [][]byte
	for _, x := range fastInts {
		b, _ := cbor.Marshal(x)
		inputs = append(inputs, b, append(bytes.Clone(b), 0))
	}
	inputs = append(inputs,
		nil, []byte{0x18, 0x05}, []byte{0x19, 0, 5}, []byte{0x1a, 0, 0, 0, 5},
		binary.BigEndian.AppendUint64([]byte{0x1b}, 5), binary.BigEndian.AppendUint64([]byte{0x1b}, math.MaxUint64),
		binary.BigEndian.AppendUint64([]byte{0x3b}, math.MaxUint64), []byte{0x18}, []byte{0x19, 1},
		[]byte{0x1c}, []byte{0x41, 7}, []byte{0xf5}, []byte{0xf6}, []byte{0xfb, 0, 0, 0, 0, 0, 0, 0, 0})
	fast := 0
	for _, in := range inputs {
		var f, s int
		if unmarshalInt(in, &f) {
			fast++
			if err := cbor.Unmarshal(in, &s); err != nil || s != f {
				t.Errorf("% x into int: fast %d, cbor/v2 %d (%v)", in, f, s, err)
			}
		} else if len(in) > 0 && f != 0 {
			t.Errorf("% x: declined but wrote %d", in, f)
		}
		var f64, s64 int64
		if unmarshalInt(in, &f64) {
			if err := cbor.Unmarshal(in, &s64); err != nil || s64 != f64 {
				t.Errorf("% x into int64: fast %d, cbor/v2 %d (%v)", in, f64, s64, err)
			}
		}
	}
	if fast != len(fastInts) {
		t.Errorf("fast path took %d inputs, want the %d shortest integers", fast, len(fastInts))
	}
	for _, in := range [][]byte{{0x18, 0x05}, {0x01, 0x00}, binary.BigEndian.AppendUint64([]byte{0x1b}, math.MaxUint64)} {
		var v int
		if unmarshalInt(in, &v) {
			t.Errorf("% x took the fast path", in)
		}
	}
	var u uint
	if unmarshalInt([]byte{0x05}, &u) {
		t.Error("a *uint took the fast path")
	}
}
