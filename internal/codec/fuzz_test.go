package codec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
)

func FuzzCharacters(f *testing.F) {
	for _, s := range []string{"", "\x00", "test\x00\x00spec\x00", "a\x00b", "\x00\x00\x00a", "abc", "a\x00\x00\x00", "a\x00bc\x00\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := codec.Characters(b)
		if got == nil {
			t.Fatal("Characters returned nil")
		}
		for _, s := range got {
			if strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("element %q holds a NUL", s)
			}
		}
		// One string per NUL, and one for a final segment without a NUL.
		want := bytes.Count(b, []byte{0})
		terminated := len(b) == 0 || b[len(b)-1] == 0
		if !terminated {
			want++
		}
		if len(got) != want {
			t.Fatalf("Characters(%q) = %q: %d strings, want %d", b, got, len(got), want)
		}
		// Encoding the strings gives the payload back, with the final NUL
		// that AppendRaw always writes.
		enc, err := codec.EncodeRaw(got)
		if err != nil {
			t.Fatal(err)
		}
		wantEnc := b
		if !terminated {
			wantEnc = append(bytes.Clone(b), 0)
		}
		if !bytes.Equal(enc, wantEnc) {
			t.Fatalf("EncodeRaw(Characters(%q)) = %q", b, enc)
		}
	})
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "\x00", "hello", "hello\x00", "he\x00llo", "a\x00\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := codec.DecodeString(b)
		i := bytes.IndexByte(b, 0)
		if i >= 0 && i < len(b)-1 {
			var ce *nanoact.ConvertError
			if !errors.As(err, &ce) || ce.Mode != "string" || !bytes.Equal(ce.Data, b) {
				t.Fatalf("DecodeString(%q) = %q, %v; want a ConvertError", b, s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("DecodeString(%q): %v", b, err)
		}
		if s != string(bytes.TrimSuffix(b, []byte{0})) {
			t.Fatalf("DecodeString(%q) = %q", b, s)
		}
		// EncodeRaw adds the NUL back.
		enc, err := codec.EncodeRaw(s)
		if err != nil || !bytes.Equal(enc, append([]byte(s), 0)) {
			t.Fatalf("EncodeRaw(%q) = %q, %v", s, enc, err)
		}
	})
}

func FuzzFloat64s(f *testing.F) {
	f.Add(f64s(1, math.NaN(), math.Inf(1), math.Inf(-1)))
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(f64s(math.Float64frombits(0x7FF00000000007A2)))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := codec.Float64s(b)
		if len(b)%8 != 0 {
			var ce *nanoact.ConvertError
			if got != nil || !errors.As(err, &ce) || ce.Mode != "double" || !bytes.Equal(ce.Data, b) {
				t.Fatalf("Float64s(% x) = %v, %v; want a ConvertError", b, got, err)
			}
			return
		}
		if err != nil || len(got) != len(b)/8 {
			t.Fatalf("Float64s(% x) = %v, %v", b, got, err)
		}
		// Bit-exact round trip, NaN payloads included.
		enc, err := codec.EncodeRaw(got)
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("EncodeRaw(Float64s(% x)) = % x, %v", b, enc, err)
		}
	})
}

// norm renders a value decoded into an interface as a string that is equal
// for equal values: map entries are sorted, every NaN is one NaN, times are
// compared as instants, and *big.Int map keys (which Go compares by
// pointer) by value.
func norm(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case map[string]any:
		entries := make([]string, 0, len(x))
		for k, e := range x {
			entries = append(entries, norm(k)+":"+norm(e))
		}
		slices.Sort(entries)
		return "{" + strings.Join(entries, ",") + "}"
	case map[any]any:
		entries := make([]string, 0, len(x))
		for k, e := range x {
			entries = append(entries, norm(k)+":"+norm(e))
		}
		slices.Sort(entries)
		return "{" + strings.Join(entries, ",") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = norm(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case float64:
		if math.IsNaN(x) {
			return "NaN"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case *big.Int:
		return "big:" + x.String()
	case cbor.Tag:
		return "tag(" + strconv.FormatUint(x.Number, 10) + "," + norm(x.Content) + ")"
	case time.Time:
		return "time:" + x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return "h'" + hex.EncodeToString(x) + "'"
	case string:
		return strconv.Quote(x)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

func FuzzCBORUnmarshal(f *testing.F) {
	seeds := []any{
		nil, 1, -1, "s", []byte{1}, 1.5, true,
		[]any{1, "a", []any{}}, map[string]any{"a": 1, "b": []any{2.5}},
		map[int]string{1: "x"}, cbor.Tag{Number: 99999, Content: "c"},
		record{Name: "r", Values: []float64{1}, Inner: &inner{N: 1}},
	}
	for _, s := range seeds {
		b, err := codec.CBOR().Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xff})
	f.Add([]byte{0xd9, 0x9c, 0x40, 0x48, 1, 0, 0, 0, 2, 0, 0, 0}) // tag(40000, 8 bytes)
	hooked := pointHooks().Codec(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := codec.CBOR()
		// Typed destinations and the hook codec must fail cleanly, never panic.
		var r record
		_ = c.Unmarshal(data, &r)
		var s shape
		_ = hooked.Unmarshal(data, &s)
		var h any
		_ = hooked.Unmarshal(data, &h)

		var v any
		if err := c.Unmarshal(data, &v); err != nil {
			if !errors.Is(err, nanoact.ErrBadType) {
				t.Fatalf("Unmarshal error %v does not match ErrBadType", err)
			}
			return
		}
		// The first round trip may normalise foreign encodings: an epoch
		// time (tag 1) is written back as RFC 3339 (tag 0), and a map
		// keyed by such times then decodes with string keys. From then on
		// Marshal and Unmarshal must be exact inverses.
		v1, ok := reencode(t, c, v)
		if !ok {
			return
		}
		v2, ok := reencode(t, c, v1)
		if !ok {
			t.Fatalf("%#v decoded but does not encode", v1)
		}
		if norm(v1) != norm(v2) {
			t.Fatalf("round trip changed %#v into %#v", v1, v2)
		}
	})
}

// reencode marshals v and unmarshals the result into an any. ok is false
// when v cannot be marshalled, which must be a clean ErrBadType (times
// beyond year 9999 decode but have no RFC 3339 form).
func reencode(t *testing.T, c codec.Codec, v any) (out any, ok bool) {
	t.Helper()
	b, err := c.Marshal(v)
	if err != nil {
		if !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("Marshal(%#v) error %v does not match ErrBadType", v, err)
		}
		return nil, false
	}
	if err := c.Unmarshal(b, &out); err != nil {
		t.Fatalf("re-Unmarshal of %x: %v", b, err)
	}
	return out, true
}

// FuzzSerial decodes any bytes as a serial payload: an unmarked payload
// is always a ConvertError holding it; a marked one decodes or is a
// ConvertError matching ErrBadType, never a panic; what decodes encodes
// again into a marked payload that decodes. DecodedSize must stay sane.
func FuzzSerial(f *testing.F) {
	for _, v := range []any{0, "s", []any{1, "a"}, map[string]any{"a": []byte{1}}, nil, 1.5} {
		b, err := codec.AppendSerial(nil, nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x00})
	f.Add([]byte("hi\x00"))
	f.Add([]byte(codec.Marker + "\x9b\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte(codec.Marker + "\x82\xa0\xa0"))
	c := codec.CBOR()
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := codec.DecodedSize(b, 1<<20); n < 0 || n > 1<<20+len(b)+1<<10 {
			t.Fatalf("DecodedSize(% x) = %d", b, n)
		}
		var v any
		err := codec.UnmarshalSerial(c, b, &v, "fuzz")
		if err != nil {
			var ce *nanoact.ConvertError
			if !errors.As(err, &ce) || ce.Mode != "serial" || !bytes.Equal(ce.Data, b) || !errors.Is(err, nanoact.ErrBadType) {
				t.Fatalf("UnmarshalSerial(% x): %v (%T)", b, err, err)
			}
			return
		}
		if !codec.IsSerial(b) {
			t.Fatalf("unmarked % x decoded to %#v", b, v)
		}
		enc, err := codec.AppendSerial(nil, c, v)
		if err != nil {
			if !errors.Is(err, nanoact.ErrBadType) {
				t.Fatalf("AppendSerial(%#v): %v", v, err)
			}
			return // a time beyond year 9999 decodes but has no RFC 3339 form
		}
		var again any
		if err := codec.UnmarshalSerial(c, enc, &again, "fuzz"); err != nil {
			t.Fatalf("re-decoding % x (from % x): %v", enc, b, err)
		}
	})
}
