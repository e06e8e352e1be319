package proto

import (
	"testing"

	"github.com/nanoact/nanoact"
)

// Queue depths follow NNG 1.x's sub0: the socket's recv-buffer sets its
// own queue and that of contexts opened later, not of those open; a
// context's recv-buffer (1..8192) sets its queue only; each queue, full,
// keeps the newest messages.
func TestSubContextBuffer(t *testing.T) {
	s := open(t, Sub)
	newCtx := func() Context {
		t.Helper()
		c, err := s.NewContext()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	depth := func(b any) int {
		t.Helper()
		n, err := b.(Buffered).Buffer(false)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := newCtx()
	if err := s.(Buffered).SetBuffer(false, 4); err != nil {
		t.Fatal(err)
	}
	after := newCtx()
	if d, b, a := depth(s), depth(before), depth(after); d != 4 || b != defaultRecvBuffer || a != 4 {
		t.Fatalf("depths: socket %d, context opened before %d, after %d; want 4, %d, 4", d, b, a, defaultRecvBuffer)
	}
	if err := before.(Buffered).SetBuffer(false, 2); err != nil {
		t.Fatal(err)
	}
	if d, b, l := depth(s), depth(before), depth(newCtx()); d != 4 || b != 2 || l != 4 {
		t.Fatalf("after the context's set: socket %d, context %d, a later context %d; want 4, 2, 4", d, b, l)
	}
	wantCode(t, before.(Buffered).SetBuffer(true, 1), nanoact.ErrNotSupported)
	wantCode(t, before.(Buffered).SetBuffer(false, 0), nanoact.ErrInvalid)
	wantCode(t, before.(Buffered).SetBuffer(false, 8193), nanoact.ErrInvalid)

	// Five messages: the context of 2 keeps the last 2, that of 4 the
	// last 4. probe, subscribed to the last one only, says when the pipe
	// has delivered them all.
	probe := newCtx()
	for _, c := range []Context{before, after} {
		_ = c.(Subscriber).Subscribe(nil)
	}
	_ = probe.(Subscriber).Subscribe([]byte("4"))
	f := attach(t, s)
	for _, b := range []string{"0", "1", "2", "3", "4"} {
		f.inject(t, 0, false, b)
	}
	if m, err := probe.Recv(ctxT(t)); err != nil || string(m.Body) != "4" {
		t.Fatalf("probe: %v", err)
	}
	for _, tc := range []struct {
		c    Context
		want []string
	}{{before, []string{"3", "4"}}, {after, []string{"1", "2", "3", "4"}}} {
		for _, w := range tc.want {
			m, err := tc.c.Recv(nb())
			if err != nil || string(m.Body) != w {
				t.Fatalf("got %v, want %q", err, w)
			}
			m.Free()
		}
		_, err := tc.c.Recv(nb())
		wantCode(t, err, nanoact.ErrTryAgain)
	}
	if err := before.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, before.(Buffered).SetBuffer(false, 3), nanoact.ErrClosed)
}
