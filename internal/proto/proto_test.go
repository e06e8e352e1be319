package proto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"go.nanomsg.org/mangos/v3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSplitBacktrace(t *testing.T) {
	hop := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	cases := []struct {
		name   string
		body   []byte
		ok     bool
		header []byte
		rest   []byte
	}{
		{"request id only", append(hop(0x80000001), 'x'), true, hop(0x80000001), []byte("x")},
		{"two hops", append(append(hop(7), hop(0x80000002)...), 'y'), true, append(hop(7), hop(0x80000002)...), []byte("y")},
		{"empty body after id", hop(0x80000003), true, hop(0x80000003), []byte{}},
		{"short", []byte{1, 2}, false, nil, nil},
		{"no end marker", bytes.Repeat(hop(1), 3), false, nil, nil},
		{"too many hops", append(bytes.Repeat(hop(1), defaultTTL), hop(0x80000000)...), false, nil, nil},
	}
	for _, c := range cases {
		// As a transport without OptionSplitWord delivers it (all in the
		// body), and as one with it does (the first word in the header).
		for _, split := range []bool{false, true} {
			for _, withPID := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/split=%v/pid=%v", c.name, split, withPID), func(t *testing.T) {
					m := mangos.NewMessage(len(c.body))
					m.Body = append(m.Body, c.body...)
					if split && len(m.Body) >= 4 {
						m.Header = append(m.Header[:0], m.Body[:4]...)
						m.Body = m.Body[4:]
					}
					if ok := splitBacktrace(m, 0x01020304, withPID, defaultTTL); ok != c.ok {
						t.Fatalf("ok = %v", ok)
					}
					want := c.header
					if withPID {
						want = append(hop(0x01020304), c.header...)
					}
					if c.ok && (!bytes.Equal(m.Header, want) || !bytes.Equal(m.Body, c.rest)) {
						t.Fatalf("header % x body % x", m.Header, m.Body)
					}
				})
			}
		}
	}
}

// takeWord reads the word from the header (a transport with
// OptionSplitWord) or the front of the body (one without).
func TestTakeWord(t *testing.T) {
	for _, split := range []bool{false, true} {
		m := mangos.NewMessage(8)
		m.Body = append(m.Body, 0, 0, 1, 2, 'x', 'y')
		if split {
			m.Header = append(m.Header[:0], m.Body[:4]...)
			m.Body = m.Body[4:]
		}
		w, ok := takeWord(m)
		if !ok || w != 0x0102 || string(m.Body) != "xy" || len(m.Header) != 0 {
			t.Fatalf("split %v: %x %v % x % x", split, w, ok, m.Header, m.Body)
		}
	}
	short := mangos.NewMessage(3)
	short.Body = append(short.Body, 1, 2, 3)
	if _, ok := takeWord(short); ok {
		t.Fatal("a 3-byte message gave a word")
	}
}

// FuzzSplitBacktrace: never panics, and on success header+body is the
// original bytes, the header a whole number of hops ending in one with
// the high bit set.
func FuzzSplitBacktrace(f *testing.F) {
	f.Add([]byte{0x80, 0, 0, 1, 'a'})
	f.Add([]byte{0, 0, 0, 1, 0x80, 0, 0, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m := mangos.NewMessage(len(b))
		m.Body = append(m.Body, b...)
		if !splitBacktrace(m, 0, false, defaultTTL) {
			return
		}
		if len(m.Header)%4 != 0 || len(m.Header) == 0 || m.Header[len(m.Header)-4]&0x80 == 0 {
			t.Fatalf("bad header % x", m.Header)
		}
		if !bytes.Equal(append(append([]byte{}, m.Header...), m.Body...), b) {
			t.Fatal("bytes lost")
		}
	})
}

func TestNonBlockContext(t *testing.T) {
	ctx := NonBlock(t.Context())
	if !IsNonBlock(ctx) || IsNonBlock(t.Context()) {
		t.Fatal("IsNonBlock")
	}
	if err := waitErr(ctx, "op"); err == nil || err.Error() != "op: 8 | Try again" {
		t.Fatalf("waitErr %v", err)
	}
}
