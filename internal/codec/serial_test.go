package codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
)

// TestSerialMarker checks that a serial payload is Marker followed by the
// codec's bytes, that it is itself plain CBOR (any reader skips tag
// 55799), and that it decodes back.
func TestSerialMarker(t *testing.T) {
	b, err := codec.AppendSerial(nil, nil, map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0xd9, 0xd9, 0xf7}) || !codec.IsSerial(b) {
		t.Fatalf("payload % x lacks the marker", b)
	}
	var plain map[string]any
	if err := cbor.Unmarshal(b, &plain); err != nil || plain["n"] != uint64(1) {
		t.Fatalf("a CBOR reader got %v, %v", plain, err)
	}
	var got map[string]any
	if err := codec.UnmarshalSerial(nil, b, &got, "test"); err != nil || got["n"] != int64(1) {
		t.Fatalf("UnmarshalSerial = %v, %v", got, err)
	}
	// Appending keeps what dst held.
	b2, err := codec.AppendSerial([]byte("head"), codec.CBOR(), 0)
	if err != nil || string(b2) != "head\xd9\xd9\xf7\x00" {
		t.Fatalf("AppendSerial(head, 0) = % x, %v", b2, err)
	}
	// A failed encoding leaves dst as it was.
	if b3, err := codec.AppendSerial([]byte("x"), nil, make(chan int)); !errors.Is(err, nanoact.ErrBadType) || string(b3) != "x" {
		t.Fatalf("AppendSerial(chan) = %q, %v", b3, err)
	}
}

// TestUnmarshalSerialUnmarked checks that a payload without the marker is
// never decoded, even when it happens to be valid CBOR: nanonext's error
// byte 0x00 used to decode to int64(0) with no error.
func TestUnmarshalSerialUnmarked(t *testing.T) {
	for _, in := range [][]byte{{0x00}, {0x18, 0x00}, {}, []byte("hi\x00"), {0xd9, 0xd9}, {0xf6}} {
		var v any
		err := codec.UnmarshalSerial(nil, in, &v, "sockets: recv")
		var ce *nanoact.ConvertError
		if !errors.As(err, &ce) || ce.Mode != "serial" || !bytes.Equal(ce.Data, in) || v != nil {
			t.Fatalf("UnmarshalSerial(% x) = %v, %v; want a ConvertError", in, v, err)
		}
		if !errors.Is(err, nanoact.ErrBadType) || errors.Unwrap(err) == nil {
			t.Fatalf("UnmarshalSerial(% x): %v does not match ErrBadType or has no cause", in, err)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "sockets: recv: received data could not be unserialized (want interface {}): no serial marker") {
			t.Fatalf("message %q", msg)
		}
	}
}

// TestUnmarshalSerialCause checks that a marked payload the codec refuses
// names the Go type asked for and keeps the codec's error reachable.
func TestUnmarshalSerialCause(t *testing.T) {
	b, err := codec.AppendSerial(nil, nil, "text")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = codec.UnmarshalSerial(nil, b, &n, "rpc: request")
	var ce *nanoact.ConvertError
	var te *cbor.UnmarshalTypeError
	if !errors.As(err, &ce) || !errors.As(err, &te) || !bytes.Equal(ce.Data, b) {
		t.Fatalf("error %v (%T) does not carry the payload and cbor's error", err, err)
	}
	if ce.Type != "int" || ce.Op != "rpc: request" || !strings.Contains(err.Error(), "(want int)") {
		t.Fatalf("error %q: Op %q Type %q", err, ce.Op, ce.Type)
	}
}

// jsonCodec is a Codec of another kind: the marker goes before its bytes
// too, and it never sees the marker.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestSerialOtherCodec(t *testing.T) {
	b, err := codec.AppendSerial(nil, jsonCodec{}, []int{1, 2})
	if err != nil || string(b) != "\xd9\xd9\xf7[1,2]" {
		t.Fatalf("AppendSerial(json) = %q, %v", b, err)
	}
	var got []int
	if err := codec.UnmarshalSerial(jsonCodec{}, b, &got, "test"); err != nil || len(got) != 2 {
		t.Fatalf("UnmarshalSerial(json) = %v, %v", got, err)
	}
	// A hooked codec frames the same way.
	hb, err := codec.AppendSerial(nil, pointHooks().Codec(nil), point{1, 2})
	if err != nil || !codec.IsSerial(hb) {
		t.Fatalf("hooks: % x, %v", hb, err)
	}
	var p point
	if err := codec.UnmarshalSerial(pointHooks().Codec(nil), hb, &p, "test"); err != nil || p != (point{1, 2}) {
		t.Fatalf("hooks round trip: %v, %v", p, err)
	}
}

// emptyMapBomb returns about n bytes of CBOR made of empty maps, nested in
// arrays that each stay under the default element limit: decoded into an
// interface without a bound, each byte costs about 72 bytes of memory.
func emptyMapBomb(n int) []byte {
	const per = 1 << 16
	outer := n / per
	b := []byte{0x9a, byte(outer >> 24), byte(outer >> 16), byte(outer >> 8), byte(outer)}
	inner := append([]byte{0x9a, 0, 1, 0, 0}, bytes.Repeat([]byte{0xa0}, per)...)
	for range outer {
		b = append(b, inner...)
	}
	return b
}

// decodeMem decodes data into an any with c and returns the error, how
// long it took and how many bytes were allocated meanwhile (all
// goroutines: a sanity bound with headroom, not a measurement).
func decodeMem(c codec.Codec, data []byte) (error, time.Duration, uint64) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	var v any
	err := c.Unmarshal(data, &v)
	el := time.Since(start)
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(v)
	return err, el, m1.TotalAlloc - m0.TotalAlloc
}

// TestDecodeBomb checks that payloads built to make the decoder allocate
// far more than their size fail with ErrBadType before they allocate:
// 4 MiB of empty maps (about 300 MiB decoded before the bound), and
// small payloads declaring huge arrays, maps and strings.
func TestDecodeBomb(t *testing.T) {
	const bound = 64 << 20 // far above what a refused payload costs, far below what the bombs would take
	bombs := map[string][]byte{
		"empty maps":      emptyMapBomb(4 << 20),
		"huge array":      {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},
		"huge map":        {0xba, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00},
		"huge bytes":      {0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},
		"array of 131073": append([]byte{0x9a, 0, 2, 0, 1}, make([]byte, 131073)...),
		"deep nesting":    append(bytes.Repeat([]byte{0x81}, 33), 0),
	}
	for name, data := range bombs {
		t.Run(name, func(t *testing.T) {
			err, el, alloc := decodeMem(codec.CBOR(), data)
			if !errors.Is(err, nanoact.ErrBadType) {
				t.Fatalf("decoding %d bytes: %v, want ErrBadType", len(data), err)
			}
			if alloc > bound {
				t.Fatalf("refusing %d bytes allocated %d bytes", len(data), alloc)
			}
			t.Logf("%d bytes refused in %v, %d bytes allocated: %v", len(data), el, alloc, err)
			// At a socket's receive it is a ConvertError holding the payload.
			var v any
			var ce *nanoact.ConvertError
			if err := codec.UnmarshalSerial(nil, append([]byte(codec.Marker), data...), &v, "test"); !errors.As(err, &ce) {
				t.Fatalf("UnmarshalSerial: %v", err)
			}
		})
	}
}

// TestLimits checks NewCBOR's validation and that each limit applies.
func TestLimits(t *testing.T) {
	for _, l := range []codec.Limits{{MaxNestedLevels: 3}, {MaxArrayElements: 15}, {MaxMapPairs: -1}, {MaxNestedLevels: 70000}} {
		if _, err := codec.NewCBOR(l); !errors.Is(err, nanoact.ErrInvalid) {
			t.Errorf("NewCBOR(%+v): %v, want ErrInvalid", l, err)
		}
	}
	small, err := codec.NewCBOR(codec.Limits{MaxNestedLevels: 4, MaxArrayElements: 16, MaxMapPairs: 16})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		"17 elements": make([]int, 17),
		"17 pairs":    map[int]int{0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 10: 10, 11: 11, 12: 12, 13: 13, 14: 14, 15: 15, 16: 16},
		"5 levels":    [][][][][]int{{{{{1}}}}},
	} {
		b, err := small.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out any
		if err := small.Unmarshal(b, &out); !errors.Is(err, nanoact.ErrBadType) {
			t.Errorf("%s: %v, want ErrBadType", name, err)
		}
		if err := codec.CBOR().Unmarshal(b, &out); err != nil {
			t.Errorf("%s under the defaults: %v", name, err)
		}
	}
	// The expansion bound: 256 KiB of empty maps is estimated at 16 MiB.
	bomb := emptyMapBomb(256 << 10)
	for _, tc := range []struct {
		exp int
		ok  bool
	}{{2, false}, {32, false}, {100, true}, {-1, true}} {
		c, err := codec.NewCBOR(codec.Limits{MaxExpansion: tc.exp})
		if err != nil {
			t.Fatal(err)
		}
		var out any
		if err := c.Unmarshal(bomb, &out); (err == nil) != tc.ok {
			t.Errorf("MaxExpansion %d: %v, want ok %v", tc.exp, err, tc.ok)
		}
	}
}

// TestDecodedSize checks the estimate against the costs measured for
// lists of each kind of item (see the weights in limits.go), and that it
// stops early at its limit.
func TestDecodedSize(t *testing.T) {
	const n = 50000
	list := func(item any) []any {
		s := make([]any, n)
		for i := range s {
			s[i] = item
		}
		return s
	}
	tests := []struct {
		name     string
		v        any
		min, max float64 // estimate per payload byte
	}{
		{"empty maps", list(map[string]any{}), 60, 70},
		{"one-entry maps", list(map[string]any{"a": 1}), 85, 100},
		{"empty arrays", list([]any{}), 35, 45},
		{"small ints", list(7), 14, 18},
		{"floats", list(1.5), 2, 3.5},
		{"strings", list("ab"), 9, 13},
		{"records", list(map[string]any{"id": 1000, "name": "x", "v": 1.5}), 12, 24},
		{"bytes", make([]byte, 1<<20), 0.9, 1.1},
	}
	for _, tt := range tests {
		b, err := codec.CBOR().Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		got := float64(codec.DecodedSize(b, 1<<62)) / float64(len(b))
		if got < tt.min || got > tt.max {
			t.Errorf("%s: estimate %.1f per byte, want %v..%v", tt.name, got, tt.min, tt.max)
		}
	}
	bomb := emptyMapBomb(1 << 20)
	if got := codec.DecodedSize(bomb, 1000); got <= 1000 || got > 2000 {
		t.Errorf("DecodedSize with limit 1000 = %d, want it to stop just past the limit", got)
	}
	for _, bad := range [][]byte{nil, {0x1c}, {0x19, 0x01}, {0x7a, 0xff, 0xff, 0xff, 0xff}, {0xff}} {
		if got := codec.DecodedSize(bad, 1<<20); got < 0 || got > 1<<20 {
			t.Errorf("DecodedSize(% x) = %d", bad, got)
		}
	}
}
