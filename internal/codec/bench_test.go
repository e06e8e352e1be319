package codec_test

import (
	"fmt"
	"testing"

	"github.com/nanoact/nanoact/internal/codec"
)

// payloads are the house benchmark sizes: 8 B, 1 KiB and 64 KiB of doubles.
var payloads = []int{8, 1 << 10, 64 << 10}

func BenchmarkAppendRaw(b *testing.B) {
	for _, size := range payloads {
		b.Run(fmt.Sprintf("float64s/%dB", size), func(b *testing.B) {
			data := make([]float64, size/8)
			for i := range data {
				data[i] = float64(i)
			}
			buf := make([]byte, 0, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = codec.AppendRaw(buf[:0], data)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("bytes/%dB", size), func(b *testing.B) {
			data := make([]byte, size)
			buf := make([]byte, 0, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = codec.AppendRaw(buf[:0], data)
			}
		})
	}
}

func BenchmarkFloat64s(b *testing.B) {
	for _, size := range payloads {
		payload, err := codec.EncodeRaw(make([]float64, size/8))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("new/%dB", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := codec.Float64s(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("append/%dB", size), func(b *testing.B) {
			dst := make([]float64, 0, size/8)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = codec.AppendFloat64s(dst[:0], payload)
			}
		})
	}
}

func BenchmarkCharacters(b *testing.B) {
	payload, err := codec.EncodeRaw([]string{"examples", "this is an example", "", "tail"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		_ = codec.Characters(payload)
	}
}

func BenchmarkCBOR(b *testing.B) {
	in := map[string]any{"name": "r", "values": []any{1.0, 2.0, 3.0}, "n": 42}
	for _, tc := range []struct {
		name string
		c    codec.Codec
	}{
		{"plain", codec.CBOR()},
		{"hooks-walk-any", pointHooks().Codec(nil)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := tc.c.Marshal(in)
				if err != nil {
					b.Fatal(err)
				}
				var out any
				if err := tc.c.Unmarshal(data, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("hooks-struct", func(b *testing.B) {
		c := pointHooks().Codec(nil)
		in := shape{Name: "s", Center: point{1, 2}, Path: []point{{3, 4}, {5, 6}}, Extra: point{7, 8}}
		b.ReportAllocs()
		for b.Loop() {
			data, err := c.Marshal(in)
			if err != nil {
				b.Fatal(err)
			}
			var out shape
			if err := c.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSerial frames the map of BenchmarkCBOR as a serial payload
// (marker, then CBOR) and decodes it back, into a reused buffer ("reuse")
// or a new slice each time ("new"): compare with BenchmarkCBOR/plain,
// which marshals into a new slice.
func BenchmarkSerial(b *testing.B) {
	in := map[string]any{"name": "r", "values": []any{1.0, 2.0, 3.0}, "n": 42}
	c := codec.CBOR()
	for _, reuse := range []bool{true, false} {
		name := "new"
		if reuse {
			name = "reuse"
		}
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				var dst []byte
				if reuse {
					dst = buf[:0]
				}
				data, err := codec.AppendSerial(dst, c, in)
				if err != nil {
					b.Fatal(err)
				}
				var out any
				if err := codec.UnmarshalSerial(c, data, &out, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
