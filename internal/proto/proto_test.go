package proto

import (
	"bytes"
	"encoding/binary"
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
		t.Run(c.name, func(t *testing.T) {
			m := mangos.NewMessage(len(c.body))
			m.Body = append(m.Body, c.body...)
			if ok := splitBacktrace(m, defaultTTL); ok != c.ok {
				t.Fatalf("ok = %v", ok)
			}
			if c.ok && (!bytes.Equal(m.Header, c.header) || !bytes.Equal(m.Body, c.rest)) {
				t.Fatalf("header % x body % x", m.Header, m.Body)
			}
		})
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
		if !splitBacktrace(m, defaultTTL) {
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
