package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
)

func TestCharacters(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty message", "", []string{}},
		{"single NUL", "\x00", []string{""}},
		{"only NULs", "\x00\x00\x00", []string{"", "", ""}},
		{"no NUL", "abc", []string{"abc"}},
		{"terminated", "abc\x00", []string{"abc"}},
		{"reference example", "test\x00\x00spec\x00", []string{"test", "", "spec"}},
		{"trailing segment without NUL", "a\x00b", []string{"a", "b"}},
		{"leading empty", "\x00a\x00", []string{"", "a"}},
		{"trailing empties kept", "a\x00\x00\x00", []string{"a", "", ""}},
		{"R c(a, bc, empty)", "a\x00bc\x00\x00", []string{"a", "bc", ""}},
		{"middle empties kept", "a\x00\x00\x00b\x00", []string{"a", "", "", "b"}},
		{"leading empties", "\x00\x00\x00a", []string{"", "", "", "a"}},
		{"utf8", "h\u00e9\x00\u4e16", []string{"h\u00e9", "\u4e16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codec.Characters([]byte(tt.in))
			if got == nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Characters(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCharactersRoundTrip(t *testing.T) {
	tests := [][]string{
		{},
		{""},
		{"", ""},
		{"a", "", ""},
		{"a"},
		{"examples", "this is an example"},
		{"", "x"},
		{"x", "", "y"},
		{"unicode \u00e9\u00e8", "tab\tnewline\n"},
	}
	for _, in := range tests {
		b, err := codec.EncodeRaw(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := codec.Characters(b); !slices.Equal(got, in) {
			t.Errorf("Characters(EncodeRaw(%q)) = %q", in, got)
		}
	}
}

func TestDecodeString(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "empty", in: "", want: ""},
		{name: "lone NUL", in: "\x00", want: ""},
		{name: "no NUL", in: "hello", want: "hello"},
		{name: "terminated", in: "hello\x00", want: "hello"},
		{name: "NUL in the middle", in: "he\x00llo", wantErr: true},
		{name: "two NULs at the end", in: "hello\x00\x00", wantErr: true},
		{name: "leading NUL", in: "\x00a", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got, err := codec.DecodeString(in)
			if !tt.wantErr {
				if err != nil || got != tt.want {
					t.Fatalf("DecodeString(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			checkConvertError(t, err, "string", in)
			if got != "" {
				t.Errorf("DecodeString(%q) = %q on error, want empty", tt.in, got)
			}
		})
	}
}

// checkConvertError checks that err is a *nanoact.ConvertError for mode
// holding exactly data (the same backing array).
func checkConvertError(t *testing.T, err error, mode string, data []byte) {
	t.Helper()
	var ce *nanoact.ConvertError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want *nanoact.ConvertError", err, err)
	}
	if ce.Mode != mode {
		t.Errorf("ConvertError.Mode = %q, want %q", ce.Mode, mode)
	}
	if !bytes.Equal(ce.Data, data) || (len(data) > 0 && &ce.Data[0] != &data[0]) {
		t.Errorf("ConvertError.Data = % x, want the payload % x itself", ce.Data, data)
	}
	if !errors.Is(err, nanoact.ErrBadType) {
		t.Errorf("errors.Is(%v, ErrBadType) = false", err)
	}
}

func TestTypedDecodersBadLength(t *testing.T) {
	decoders := []struct {
		mode string
		unit int
		dec  func([]byte) error
	}{
		{"double", 8, func(b []byte) error { v, err := codec.Float64s(b); return nilOnError(v == nil, err) }},
		{"integer", 4, func(b []byte) error { v, err := codec.Int32s(b); return nilOnError(v == nil, err) }},
		{"logical", 4, func(b []byte) error { v, err := codec.Bools(b); return nilOnError(v == nil, err) }},
		{"complex", 16, func(b []byte) error { v, err := codec.Complex128s(b); return nilOnError(v == nil, err) }},
	}
	for _, d := range decoders {
		for _, n := range []int{1, d.unit - 1, d.unit + 1, 3*d.unit + 2} {
			t.Run(fmt.Sprintf("%s/len=%d", d.mode, n), func(t *testing.T) {
				data := bytes.Repeat([]byte{0xab}, n)
				checkConvertError(t, d.dec(data), d.mode, data)
			})
		}
	}
}

var errNotNil = errors.New("decoder returned a non-nil slice with its error")

func nilOnError(isNil bool, err error) error {
	if err != nil && !isNil {
		return errNotNil
	}
	return err
}

func TestTypedDecodersEmpty(t *testing.T) {
	f, err1 := codec.Float64s(nil)
	i, err2 := codec.Int32s([]byte{})
	b, err3 := codec.Bools(nil)
	c, err4 := codec.Complex128s([]byte{})
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	if f == nil || i == nil || b == nil || c == nil || len(f)+len(i)+len(b)+len(c) != 0 {
		t.Fatalf("empty payload gave %#v %#v %#v %#v, want empty non-nil slices", f, i, b, c)
	}
}

func TestFloat64sRoundTrip(t *testing.T) {
	tests := map[string][]float64{
		"one":       {1},
		"specials":  {math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1)},
		"extremes":  {math.MaxFloat64, math.SmallestNonzeroFloat64, -math.MaxFloat64},
		"R NA":      {math.Float64frombits(0x7FF00000000007A2)},
		"fractions": {0.1, 1.0 / 3, -2.5},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := codec.EncodeRaw(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := codec.Float64s(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(in) {
				t.Fatalf("got %d values, want %d", len(got), len(in))
			}
			for i := range in {
				if math.Float64bits(got[i]) != math.Float64bits(in[i]) {
					t.Errorf("value %d: bits %x, want %x", i, math.Float64bits(got[i]), math.Float64bits(in[i]))
				}
			}
		})
	}
}

func TestInt32sRoundTrip(t *testing.T) {
	in := []int32{0, 1, -1, math.MaxInt32, math.MinInt32}
	b, err := codec.EncodeRaw(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.Int32s(b)
	if err != nil || !slices.Equal(got, in) {
		t.Fatalf("Int32s = %v, %v; want %v", got, err, in)
	}
}

func TestBools(t *testing.T) {
	in := []bool{true, false, true}
	b, err := codec.EncodeRaw(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.Bools(b)
	if err != nil || !slices.Equal(got, in) {
		t.Fatalf("Bools = %v, %v; want %v", got, err, in)
	}
	// Any non-zero int32, including R's NA (INT_MIN), is true.
	got, err = codec.Bools(i32s(0, 2, -1, math.MinInt32))
	if err != nil || !slices.Equal(got, []bool{false, true, true, true}) {
		t.Fatalf("Bools(0, 2, -1, NA) = %v, %v", got, err)
	}
}

func TestComplex128sRoundTrip(t *testing.T) {
	in := []complex128{complex(1, 2), complex(math.Inf(-1), 0), complex(0, -0.5)}
	b, err := codec.EncodeRaw(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.Complex128s(b)
	if err != nil || !slices.Equal(got, in) {
		t.Fatalf("Complex128s = %v, %v; want %v", got, err, in)
	}
	nan, err := codec.Complex128s(c128s(complex(math.NaN(), 1)))
	if err != nil || !math.IsNaN(real(nan[0])) || imag(nan[0]) != 1 {
		t.Fatalf("Complex128s(NaN+1i) = %v, %v", nan, err)
	}
}

func TestAppendDecoders(t *testing.T) {
	f, err := codec.AppendFloat64s([]float64{9}, f64s(1, 2))
	if err != nil || !slices.Equal(f, []float64{9, 1, 2}) {
		t.Errorf("AppendFloat64s = %v, %v", f, err)
	}
	i, err := codec.AppendInt32s([]int32{9}, i32s(1))
	if err != nil || !slices.Equal(i, []int32{9, 1}) {
		t.Errorf("AppendInt32s = %v, %v", i, err)
	}
	b, err := codec.AppendBools([]bool{false}, i32s(1))
	if err != nil || !slices.Equal(b, []bool{false, true}) {
		t.Errorf("AppendBools = %v, %v", b, err)
	}
	c, err := codec.AppendComplex128s([]complex128{1}, c128s(2i))
	if err != nil || !slices.Equal(c, []complex128{1, 2i}) {
		t.Errorf("AppendComplex128s = %v, %v", c, err)
	}
	keep := []float64{7}
	bad := []byte{1, 2, 3}
	got, err := codec.AppendFloat64s(keep, bad)
	checkConvertError(t, err, "double", bad)
	if !slices.Equal(got, keep) {
		t.Errorf("AppendFloat64s on error = %v, want dst unchanged", got)
	}
	buf := make([]float64, 0, 16)
	payload := f64s(1, 2, 3)
	if allocs := testing.AllocsPerRun(50, func() {
		buf, _ = codec.AppendFloat64s(buf[:0], payload)
	}); allocs != 0 {
		t.Errorf("AppendFloat64s into a buffer with room: %v allocations, want 0", allocs)
	}
}
