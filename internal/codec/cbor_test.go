package codec_test

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
)

type record struct {
	Name   string            `cbor:"name"`
	Values []float64         `cbor:"values"`
	Tags   map[string]string `cbor:"tags,omitempty"`
	Inner  *inner            `cbor:"inner"`
	hidden int
}

type inner struct {
	N  int32
	OK bool
}

// roundTrip marshals in with c and unmarshals into a new value of out's
// type, returning it.
func roundTrip[T any](t *testing.T, c codec.Codec, in any) T {
	t.Helper()
	b, err := c.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", in, err)
	}
	var out T
	if err := c.Unmarshal(b, &out); err != nil {
		t.Fatalf("Unmarshal(%x) into %T: %v", b, out, err)
	}
	return out
}

func TestCBORRoundTripTyped(t *testing.T) {
	c := codec.CBOR()
	t.Run("int", func(t *testing.T) {
		for _, in := range []int{0, 1, -1, math.MaxInt64, math.MinInt64} {
			if got := roundTrip[int](t, c, in); got != in {
				t.Errorf("int %d -> %d", in, got)
			}
		}
	})
	t.Run("uint64", func(t *testing.T) {
		if got := roundTrip[uint64](t, c, uint64(math.MaxUint64)); got != math.MaxUint64 {
			t.Errorf("got %d", got)
		}
	})
	t.Run("string", func(t *testing.T) {
		for _, in := range []string{"", "hello", "h\u00e9\u4e16", "nul\x00inside", "\xff\xfe invalid utf-8"} {
			if got := roundTrip[string](t, c, in); got != in {
				t.Errorf("string %q -> %q", in, got)
			}
		}
	})
	t.Run("float64 NaN payload", func(t *testing.T) {
		na := math.Float64frombits(0x7FF00000000007A2)
		got := roundTrip[[]float64](t, c, []float64{na, math.Inf(1), math.Inf(-1), 1.5})
		if math.Float64bits(got[0]) != 0x7FF00000000007A2 || !math.IsInf(got[1], 1) || !math.IsInf(got[2], -1) || got[3] != 1.5 {
			t.Errorf("got %v (bits %x)", got, math.Float64bits(got[0]))
		}
	})
	t.Run("struct", func(t *testing.T) {
		in := record{Name: "r", Values: []float64{1, 2}, Tags: map[string]string{"k": "v"}, Inner: &inner{N: 3, OK: true}, hidden: 9}
		got := roundTrip[record](t, c, in)
		in.hidden = 0 // unexported fields are not serialised
		if !reflect.DeepEqual(got, in) {
			t.Errorf("got %#v, want %#v", got, in)
		}
	})
	t.Run("map[string]any", func(t *testing.T) {
		in := map[string]any{"a": "x", "b": []any{"y", int64(2)}}
		got := roundTrip[map[string]any](t, c, in)
		if !reflect.DeepEqual(got, in) {
			t.Errorf("got %#v, want %#v", got, in)
		}
	})
	t.Run("time", func(t *testing.T) {
		in := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
		if got := roundTrip[time.Time](t, c, in); !got.Equal(in) {
			t.Errorf("got %v, want %v", got, in)
		}
	})
}

func TestCBORRoundTripAny(t *testing.T) {
	c := codec.CBOR()
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"positive int", 5, int64(5)},
		{"negative int", -5, int64(-5)},
		{"uint32", uint32(7), int64(7)},
		{"huge uint64", uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
		{"float", 2.5, 2.5},
		{"bool", true, true},
		{"string", "s", "s"},
		{"bytes", []byte{1, 2}, []byte{1, 2}},
		{"[]any", []any{1, "a", []any{true}}, []any{int64(1), "a", []any{true}}},
		{"[]string", []string{"a", "b"}, []any{"a", "b"}},
		{"map[string]any", map[string]any{"a": 1, "b": map[string]any{"c": "d"}},
			map[string]any{"a": int64(1), "b": map[string]any{"c": "d"}}},
		{"struct", inner{N: 1, OK: true}, map[string]any{"N": int64(1), "OK": true}},
		{"time", time.Date(2001, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(2001, 1, 1, 0, 0, 0, 5, time.UTC)},
		{"non-string keys fall back to map[any]any", map[int]string{1: "a"}, map[any]any{int64(1): "a"}},
		{"fallback applies to the whole message",
			map[string]any{"outer": map[int]string{2: "b"}},
			map[any]any{"outer": map[any]any{int64(2): "b"}}},
		{"unknown tag", cbor.Tag{Number: 99999, Content: "x"}, cbor.Tag{Number: 99999, Content: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := roundTrip[any](t, c, tt.in)
			if tm, ok := tt.want.(time.Time); ok {
				if g, ok := got.(time.Time); !ok || !g.Equal(tm) {
					t.Fatalf("got %#v, want %v", got, tm)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v (%T), want %#v (%T)", got, got, tt.want, tt.want)
			}
		})
	}
}

func TestCBORErrors(t *testing.T) {
	c := codec.CBOR()
	t.Run("unsupported type", func(t *testing.T) {
		_, err := c.Marshal(make(chan int))
		if !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("Marshal(chan) error = %v, want ErrBadType", err)
		}
		var ute *cbor.UnsupportedTypeError
		if !errors.As(err, &ute) {
			t.Errorf("error %v does not wrap *cbor.UnsupportedTypeError", err)
		}
	})
	t.Run("non-pointer destination", func(t *testing.T) {
		var v int
		if err := c.Unmarshal([]byte{0x01}, v); !errors.Is(err, nanoact.ErrInvalid) {
			t.Fatalf("Unmarshal into non-pointer error = %v, want ErrInvalid", err)
		}
		if err := c.Unmarshal([]byte{0x01}, nil); !errors.Is(err, nanoact.ErrInvalid) {
			t.Fatalf("Unmarshal into nil error = %v, want ErrInvalid", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		var v any
		for _, data := range [][]byte{nil, {0xff}, {0x82, 0x01}, {0x5f, 0x41}} {
			if err := c.Unmarshal(data, &v); !errors.Is(err, nanoact.ErrBadType) {
				t.Errorf("Unmarshal(% x) error = %v, want ErrBadType", data, err)
			}
		}
	})
	t.Run("type mismatch", func(t *testing.T) {
		b, err := c.Marshal("text")
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = c.Unmarshal(b, &n)
		var ute *cbor.UnmarshalTypeError
		if !errors.Is(err, nanoact.ErrBadType) || !errors.As(err, &ute) {
			t.Fatalf("Unmarshal(string into int) error = %v", err)
		}
	})
	t.Run("string keys into typed map", func(t *testing.T) {
		b, err := c.Marshal(map[int]int{1: 1})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]int
		if err := c.Unmarshal(b, &m); !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("Unmarshal(int keys into map[string]int) error = %v", err)
		}
	})
}

func TestCBORShared(t *testing.T) {
	if codec.CBOR() != codec.CBOR() {
		t.Fatal("CBOR() built a new codec")
	}
}

func TestCBORConcurrent(t *testing.T) {
	c := codec.CBOR()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				in := map[string]any{"i": int64(i), "j": int64(j), "v": []any{"x", 1.5}}
				b, err := c.Marshal(in)
				if err != nil {
					t.Error(err)
					return
				}
				var out any
				if err := c.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(out, in) {
					t.Errorf("got %#v, %v", out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
