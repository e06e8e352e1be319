package codec

import (
	"strconv"
	"strings"

	"github.com/nanoact/nanoact"
)

// Mode is a nanonext receive mode, numbered as nanonext's integer codes
// (recv(mode = 5L)), so that Mode(5) means "integer" here and in R.
type Mode int

// The receive modes. Serial and Raw are also the two send modes.
const (
	Serial    Mode = 1 // codec-serialised value (CBOR by default)
	Character Mode = 2 // NUL-separated strings, see Characters
	Complex   Mode = 3 // 16-byte complex numbers, see Complex128s
	Double    Mode = 4 // 8-byte floats, see Float64s
	Integer   Mode = 5 // 4-byte integers, see Int32s
	Logical   Mode = 6 // 4-byte logicals, see Bools
	Numeric   Mode = 7 // identical to Double, reported as "numeric"
	Raw       Mode = 8 // the payload bytes untouched
	String    Mode = 9 // one NUL-terminated string, see DecodeString
)

// String returns the mode's nanonext name, e.g. "double", or "Mode(n)" for
// a number outside 1..9. It does not allocate for valid modes.
func (m Mode) String() string {
	switch m {
	case Serial:
		return "serial"
	case Character:
		return "character"
	case Complex:
		return "complex"
	case Double:
		return "double"
	case Integer:
		return "integer"
	case Logical:
		return "logical"
	case Numeric:
		return "numeric"
	case Raw:
		return "raw"
	case String:
		return "string"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

const (
	socketModes = "serial, character, complex, double, integer, logical, numeric, raw, string"
	streamModes = "character, complex, double, integer, logical, numeric, raw, string"
)

// ParseRecvMode returns the receive mode that s names under nanonext's
// rules for sockets and contexts (nano_matcharg): s may be any non-empty
// prefix of a mode name, case-sensitive, so "r" is raw, "d" double, "ch"
// character, "co" complex, "se" serial and "st" string; the one-letter
// prefixes "c" and "s" are ambiguous. nanonext's integer receive codes are
// accepted as decimal strings, "1" (serial) to "9" (string). An ambiguous,
// empty or unknown s gives an *nanoact.Error matching nanoact.ErrInvalid
// whose text is nanonext's "'mode' should be one of ..." message.
// ParseRecvMode does not block and allocates only on error.
//
// Send modes follow other rules ("s" is serial there): see ParseSendMode.
func ParseRecvMode(s string) (Mode, error) {
	if len(s) == 1 && s[0] >= '1' && s[0] <= '9' {
		return Mode(s[0] - '0'), nil
	}
	if s == "c" || s == "s" {
		return 0, modeError("ambiguous", s, socketModes)
	}
	return matchMode(s, Serial, socketModes)
}

// ParseSendMode returns the send mode that s names under nanonext's send
// rules (nano_encodes): any non-empty prefix of "serial" ("s", "se", ...)
// is Serial, any of "raw" ("r", "ra", "raw") is Raw, case-sensitive; and
// nanonext's integer send codes are accepted as decimal strings, "1"
// Serial and "2" Raw. Anything else gives an *nanoact.Error matching
// nanoact.ErrInvalid. ParseSendMode does not block and allocates only on
// error.
func ParseSendMode(s string) (Mode, error) {
	switch {
	case s == "1":
		return Serial, nil
	case s == "2":
		return Raw, nil
	case s != "" && strings.HasPrefix("serial", s):
		return Serial, nil
	case s != "" && strings.HasPrefix("raw", s):
		return Raw, nil
	}
	return 0, nanoact.Errorf(nanoact.CodeInvalid, "codec: parse send mode",
		"unknown send mode %q: want serial or raw (or a prefix of one), or 1 or 2", s)
}

// ParseStreamMode is ParseRecvMode for byte streams (nano_matchargs): "serial"
// is not accepted, so "s" means string; "c" is still ambiguous. It does not
// block and allocates only on error.
func ParseStreamMode(s string) (Mode, error) {
	if s == "c" {
		return 0, modeError("ambiguous", s, streamModes)
	}
	return matchMode(s, Character, streamModes)
}

// matchMode returns the first mode from first..String whose name has s as a
// prefix. Apart from "c" and "s", which the callers reject first, no
// non-empty prefix is shared by two names, so the order does not matter.
func matchMode(s string, first Mode, names string) (Mode, error) {
	if s != "" {
		for m := first; m <= String; m++ {
			if strings.HasPrefix(m.String(), s) {
				return m, nil
			}
		}
	}
	return 0, modeError("unknown", s, names)
}

func modeError(what, s, names string) error {
	return nanoact.Errorf(nanoact.CodeInvalid, "codec: parse mode",
		"%s mode %q: 'mode' should be one of %s", what, s, names)
}
