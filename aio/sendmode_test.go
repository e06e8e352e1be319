package aio_test

import (
	"testing"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// TestSendWaitingKeepsModes checks the sends that have to wait for a
// peer, which aio encodes itself: a serial one carries the serial marker,
// and one given no Mode on a socket opened WithSendMode(Raw) is raw, as
// the socket's own Send would make it.
func TestSendWaitingKeepsModes(t *testing.T) {
	t.Parallel()
	push := open(t, sockets.Push, sockets.WithSendMode(sockets.Raw))
	ctx := ctxT(t)
	raw := aio.Send(push, "hi") // no peer yet: it waits
	serial := aio.Send(push, 7, aio.Mode(sockets.Serial))
	pull := open(t, sockets.Pull)
	connect(t, pull, push, "")
	for _, a := range []*aio.SendAio{raw, serial} {
		if _, err := a.Value(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// In either order: the order of waiting aio sends is not this test's.
	want := map[string]bool{"hi\x00": true, "\xd9\xd9\xf7\x07": true}
	for range 2 {
		m, err := pull.Recv(ctx)
		if err != nil || !want[string(m.Body)] {
			t.Fatalf("body % x, %v; want one of %v", m.Body, err, want)
		}
		delete(want, string(m.Body))
	}
}
