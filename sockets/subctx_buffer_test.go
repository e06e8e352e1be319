package sockets_test

import (
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// recv-buffer on contexts, as NNG 1.x: a sub context has its own
// (1..8192), starting at the socket's depth when it opened; other
// protocols' contexts have none.
func TestContextRecvBuffer(t *testing.T) {
	t.Parallel()
	sub := open(t, sockets.Sub)
	if err := sockets.Set(sub, sockets.RecvBuffer, 16); err != nil {
		t.Fatal(err)
	}
	c, err := sub.Context()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := sockets.Get(c, sockets.RecvBuffer); err != nil || n != 16 {
		t.Fatalf("context recv-buffer %d %v, want the socket's 16", n, err)
	}
	if err := sockets.Set(c, sockets.RecvBuffer, 3); err != nil {
		t.Fatal(err)
	}
	if n, err := sockets.Get(c, sockets.RecvBuffer); err != nil || n != 3 {
		t.Fatalf("context recv-buffer %d %v, want 3", n, err)
	}
	if n, err := sockets.Get(sub, sockets.RecvBuffer); err != nil || n != 16 {
		t.Fatalf("socket recv-buffer %d %v, want 16 still", n, err)
	}
	wantCode(t, sockets.Set(c, sockets.RecvBuffer, 0), nanoact.ErrInvalid)
	wantCode(t, sockets.Set(c, sockets.SendBuffer, 1), nanoact.ErrNotSupported)

	req := open(t, sockets.Req)
	rc, err := req.Context()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	wantCode(t, sockets.Set(rc, sockets.RecvBuffer, 4), nanoact.ErrNotSupported)
}
