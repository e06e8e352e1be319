package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
)

// le builds little-endian payloads for expectations.
func f64s(xs ...float64) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func i32s(xs ...int32) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

func c128s(xs ...complex128) []byte {
	var b []byte
	for _, x := range xs {
		b = append(b, f64s(real(x), imag(x))...)
	}
	return b
}

type (
	celsius float64
	names   []string
	label   string
	flags   []bool
	counts  []int
)

func TestEncodeRaw(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want []byte
	}{
		{"nil", nil, nil},
		{"bytes", []byte{1, 2, 0, 3}, []byte{1, 2, 0, 3}},
		{"empty bytes", []byte{}, nil},
		{"string", "examples", []byte("examples\x00")},
		{"empty string", "", []byte{0}},
		{"string with NUL", "a\x00b", []byte("a\x00b\x00")},
		{"strings", []string{"a", "", "bc"}, []byte("a\x00\x00bc\x00")},
		{"empty strings", []string{}, nil},
		{"float64", 2.0, f64s(2)},
		{"float64s", []float64{1, -0.5, math.Inf(1), math.Inf(-1)}, f64s(1, -0.5, math.Inf(1), math.Inf(-1))},
		{"empty float64s", []float64{}, nil},
		{"float32 widened", float32(1.5), f64s(1.5)},
		{"float32s widened", []float32{0.25, -2}, f64s(0.25, -2)},
		{"int32", int32(-7), i32s(-7)},
		{"int32s NA", []int32{1, math.MinInt32, math.MaxInt32}, i32s(1, math.MinInt32, math.MaxInt32)},
		{"int", 2, i32s(2)},
		{"ints", []int{1, -1, math.MaxInt32, math.MinInt32}, i32s(1, -1, math.MaxInt32, math.MinInt32)},
		{"int64", int64(-3), i32s(-3)},
		{"int64s", []int64{4, 5}, i32s(4, 5)},
		{"bool true", true, []byte{1, 0, 0, 0}},
		{"bool false", false, []byte{0, 0, 0, 0}},
		{"bools", []bool{true, false, true}, i32s(1, 0, 1)},
		{"complex128", complex(1, -2), c128s(complex(1, -2))},
		{"complex128s", []complex128{complex(0, 1), complex(math.Inf(1), 3)}, c128s(complex(0, 1), complex(math.Inf(1), 3))},
		{"complex64 widened", complex64(complex(0.5, 2)), c128s(complex(0.5, 2))},
		{"complex64s widened", []complex64{complex(1, 1)}, c128s(complex(1, 1))},
		{"defined float", celsius(21.5), f64s(21.5)},
		{"defined string", label("x"), []byte("x\x00")},
		{"defined strings", names{"p", "q"}, []byte("p\x00q\x00")},
		{"defined bools", flags{false, true}, i32s(0, 1)},
		{"defined ints", counts{9}, i32s(9)},
		{"float array", [2]float64{3, 4}, f64s(3, 4)},
		{"byte array", [3]byte{7, 8, 9}, []byte{7, 8, 9}},
		{"string array", [2]string{"a", "b"}, []byte("a\x00b\x00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := codec.EncodeRaw(tt.in)
			if err != nil {
				t.Fatalf("EncodeRaw(%#v) error: %v", tt.in, err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("EncodeRaw(%#v) = % x, want % x", tt.in, got, tt.want)
			}
			prefix := []byte("pre")
			app, err := codec.AppendRaw(prefix, tt.in)
			if err != nil || !bytes.Equal(app, append([]byte("pre"), tt.want...)) {
				t.Fatalf("AppendRaw(pre, %#v) = % x, %v", tt.in, app, err)
			}
		})
	}
}

func TestEncodeRawNaNPayload(t *testing.T) {
	// R's NA_real_ is a NaN whose low word is 1954; raw mode keeps it.
	na := math.Float64frombits(0x7FF00000000007A2)
	b, err := codec.EncodeRaw([]float64{na, math.NaN()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.Float64s(b)
	if err != nil {
		t.Fatal(err)
	}
	if math.Float64bits(got[0]) != 0x7FF00000000007A2 || math.Float64bits(got[1]) != math.Float64bits(math.NaN()) {
		t.Fatalf("NaN payloads changed: %x %x", math.Float64bits(got[0]), math.Float64bits(got[1]))
	}
}

func TestEncodeRawErrors(t *testing.T) {
	type point struct{ X, Y float64 }
	tests := []struct {
		name     string
		in       any
		target   error
		typeName string
	}{
		{"map", map[string]int{"a": 1}, nanoact.ErrBadType, "map[string]int"},
		{"struct", point{}, nanoact.ErrBadType, "codec_test.point"},
		{"pointer", &point{}, nanoact.ErrBadType, "*codec_test.point"},
		{"single byte", byte(1), nanoact.ErrBadType, "uint8"},
		{"uint64", uint64(1), nanoact.ErrBadType, "uint64"},
		{"int8", int8(1), nanoact.ErrBadType, "int8"},
		{"uint16s", []uint16{1}, nanoact.ErrBadType, "[]uint16"},
		{"any slice", []any{1.0}, nanoact.ErrBadType, "[]interface {}"},
		{"nested slice", [][]float64{{1}}, nanoact.ErrBadType, "[][]float64"},
		{"chan", make(chan int), nanoact.ErrBadType, "chan int"},
		{"func", func() {}, nanoact.ErrBadType, "func()"},
		{"int overflow", 1 << 31, nanoact.ErrInvalid, ""},
		{"int underflow", math.MinInt32 - 1, nanoact.ErrInvalid, ""},
		{"int64s overflow", []int64{1, 2, 1 << 40}, nanoact.ErrInvalid, ""},
		{"ints overflow", []int{-1 << 33}, nanoact.ErrInvalid, ""},
		{"defined ints overflow", counts{1, 1 << 32}, nanoact.ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]byte, 2, 64)
			dst[0], dst[1] = 'o', 'k'
			got, err := codec.AppendRaw(dst, tt.in)
			if !errors.Is(err, tt.target) {
				t.Fatalf("AppendRaw(%T) error = %v, want %v", tt.in, err, tt.target)
			}
			var ne *nanoact.Error
			if !errors.As(err, &ne) || ne.Op != "codec: encode raw" {
				t.Fatalf("error %v is not an *nanoact.Error with op codec: encode raw", err)
			}
			if tt.typeName != "" && !strings.Contains(err.Error(), "cannot send a "+tt.typeName+" in raw mode") {
				t.Errorf("error %q does not name type %s", err, tt.typeName)
			}
			if string(got) != "ok" {
				t.Errorf("dst changed on error: %q", got)
			}
		})
	}
}

func TestTopic(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want []byte
	}{
		{"nil matches all", nil, []byte{}},
		{"string", "examples", []byte("examples")},
		{"empty string", "", []byte{}},
		{"strings", []string{"a", "b"}, []byte("a\x00b")},
		{"one-element strings", []string{"examples"}, []byte("examples")},
		{"empty strings", []string{}, []byte{}},
		{"double", 2.0, f64s(2)},
		{"doubles", []float64{1, 10}, f64s(1, 10)},
		{"integer", int32(2), i32s(2)},
		{"int", 2, i32s(2)},
		{"logical", true, []byte{1, 0, 0, 0}},
		{"complex", complex(1, 2), c128s(complex(1, 2))},
		{"raw", []byte{0xde, 0xad, 0}, []byte{0xde, 0xad, 0}},
		{"empty raw", []byte{}, []byte{}},
		{"defined string", label("ex"), []byte("ex")},
		{"defined strings", names{"x", "y"}, []byte("x\x00y")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := codec.Topic(tt.in)
			if err != nil {
				t.Fatalf("Topic(%#v) error: %v", tt.in, err)
			}
			if got == nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("Topic(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestTopicIsPrefixOfRawMessage(t *testing.T) {
	// send(pub, c("examples", "this is an example"), mode = "raw") matches a
	// sub subscribed to "examples" (nanonext's subscribe).
	msg, err := codec.EncodeRaw([]string{"examples", "this is an example"})
	if err != nil {
		t.Fatal(err)
	}
	topic, err := codec.Topic("examples")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(msg, topic) {
		t.Fatalf("message % x does not start with topic % x", msg, topic)
	}
	if got := codec.Characters(msg); len(got) != 2 || got[0] != "examples" || got[1] != "this is an example" {
		t.Fatalf("Characters = %q", got)
	}
}

func TestTopicCopies(t *testing.T) {
	b := []byte("abc")
	got, err := codec.Topic(b)
	if err != nil {
		t.Fatal(err)
	}
	got[0] = 'x'
	if string(b) != "abc" {
		t.Fatal("Topic aliases its []byte argument")
	}
}

func TestTopicErrors(t *testing.T) {
	for _, in := range []any{map[int]int{}, uint(1), struct{}{}} {
		if _, err := codec.Topic(in); !errors.Is(err, nanoact.ErrBadType) {
			t.Errorf("Topic(%T) error = %v, want ErrBadType", in, err)
		}
	}
	if _, err := codec.Topic(int64(1 << 40)); !errors.Is(err, nanoact.ErrInvalid) {
		t.Errorf("Topic(1<<40) error = %v, want ErrInvalid", err)
	}
}

func TestAppendRawAllocs(t *testing.T) {
	buf := make([]byte, 0, 1<<16)
	values := map[string]any{
		"float64s": make([]float64, 128),
		"int32s":   make([]int32, 128),
		"ints":     make([]int, 128),
		"strings":  []string{"a", "bc", "def"},
		"string":   "hello",
		"bytes":    make([]byte, 100),
		"bools":    make([]bool, 10),
		"complex":  make([]complex128, 10),
		"float64":  1.5,
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(100, func() {
				var err error
				buf, err = codec.AppendRaw(buf[:0], v)
				if err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("AppendRaw into a buffer with room: %v allocations, want 0", allocs)
			}
		})
	}
}
