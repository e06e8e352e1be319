package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
)

func TestModeString(t *testing.T) {
	tests := []struct {
		m    codec.Mode
		want string
	}{
		{codec.Serial, "serial"},
		{codec.Character, "character"},
		{codec.Complex, "complex"},
		{codec.Double, "double"},
		{codec.Integer, "integer"},
		{codec.Logical, "logical"},
		{codec.Numeric, "numeric"},
		{codec.Raw, "raw"},
		{codec.String, "string"},
		{codec.Mode(0), "Mode(0)"},
		{codec.Mode(10), "Mode(10)"},
		{codec.Mode(-1), "Mode(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.m.String(); got != tt.want {
				t.Errorf("Mode(%d).String() = %q, want %q", int(tt.m), got, tt.want)
			}
		})
	}
}

func TestModeNumbers(t *testing.T) {
	// nanonext's integer codes (recv(mode = 5L) is integer).
	want := map[codec.Mode]int{
		codec.Serial: 1, codec.Character: 2, codec.Complex: 3, codec.Double: 4, codec.Integer: 5,
		codec.Logical: 6, codec.Numeric: 7, codec.Raw: 8, codec.String: 9,
	}
	for m, n := range want {
		if int(m) != n {
			t.Errorf("%v = %d, want %d", m, int(m), n)
		}
	}
}

func TestParseRecvMode(t *testing.T) {
	tests := []struct {
		in      string
		want    codec.Mode
		wantErr bool
	}{
		{in: "r", want: codec.Raw},
		{in: "ra", want: codec.Raw},
		{in: "raw", want: codec.Raw},
		{in: "d", want: codec.Double},
		{in: "dou", want: codec.Double},
		{in: "double", want: codec.Double},
		{in: "i", want: codec.Integer},
		{in: "integer", want: codec.Integer},
		{in: "n", want: codec.Numeric},
		{in: "numeric", want: codec.Numeric},
		{in: "l", want: codec.Logical},
		{in: "logical", want: codec.Logical},
		{in: "ch", want: codec.Character},
		{in: "char", want: codec.Character},
		{in: "character", want: codec.Character},
		{in: "co", want: codec.Complex},
		{in: "complex", want: codec.Complex},
		{in: "se", want: codec.Serial},
		{in: "serial", want: codec.Serial},
		{in: "st", want: codec.String},
		{in: "string", want: codec.String},
		{in: "c", wantErr: true},
		{in: "s", wantErr: true},
		{in: "", wantErr: true},
		{in: "re", wantErr: true},
		{in: "none", wantErr: true},
		{in: "raws", wantErr: true},
		{in: "characters", wantErr: true},
		{in: "Raw", wantErr: true},
		{in: "double ", wantErr: true},
		{in: "1", want: codec.Serial},
		{in: "2", want: codec.Character},
		{in: "8", want: codec.Raw},
		{in: "9", want: codec.String},
		{in: "0", wantErr: true},
		{in: "10", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("in="+tt.in, func(t *testing.T) {
			got, err := codec.ParseRecvMode(tt.in)
			if tt.wantErr {
				if !errors.Is(err, nanoact.ErrInvalid) {
					t.Fatalf("ParseRecvMode(%q) error = %v, want ErrInvalid", tt.in, err)
				}
				if !strings.Contains(err.Error(), "'mode' should be one of serial, character") {
					t.Errorf("error text %q lacks nanonext's message", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRecvMode(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseStreamMode(t *testing.T) {
	tests := []struct {
		in      string
		want    codec.Mode
		wantErr bool
	}{
		{in: "s", want: codec.String},
		{in: "st", want: codec.String},
		{in: "ch", want: codec.Character},
		{in: "r", want: codec.Raw},
		{in: "d", want: codec.Double},
		{in: "c", wantErr: true},
		{in: "se", wantErr: true},
		{in: "serial", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("in="+tt.in, func(t *testing.T) {
			got, err := codec.ParseStreamMode(tt.in)
			if tt.wantErr {
				if !errors.Is(err, nanoact.ErrInvalid) {
					t.Fatalf("ParseStreamMode(%q) error = %v, want ErrInvalid", tt.in, err)
				}
				if !strings.Contains(err.Error(), "'mode' should be one of character, complex") {
					t.Errorf("stream error text %q is not nanonext's stream message", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseStreamMode(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestParseSendMode checks nanonext's send rules: "s" is serial for a send
// (it is ambiguous for a receive), and the integer codes are 1 and 2.
func TestParseSendMode(t *testing.T) {
	tests := []struct {
		in      string
		want    codec.Mode
		wantErr bool
	}{
		{in: "s", want: codec.Serial},
		{in: "se", want: codec.Serial},
		{in: "serial", want: codec.Serial},
		{in: "r", want: codec.Raw},
		{in: "ra", want: codec.Raw},
		{in: "raw", want: codec.Raw},
		{in: "1", want: codec.Serial},
		{in: "2", want: codec.Raw},
		{in: "", wantErr: true},
		{in: "serials", wantErr: true},
		{in: "raws", wantErr: true},
		{in: "string", wantErr: true},
		{in: "d", wantErr: true},
		{in: "c", wantErr: true},
		{in: "8", wantErr: true},
		{in: "0", wantErr: true},
		{in: "R", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("in="+tt.in, func(t *testing.T) {
			got, err := codec.ParseSendMode(tt.in)
			if tt.wantErr {
				if !errors.Is(err, nanoact.ErrInvalid) || !strings.Contains(err.Error(), "want serial or raw") {
					t.Fatalf("ParseSendMode(%q) = %v, %v; want ErrInvalid", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSendMode(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}
