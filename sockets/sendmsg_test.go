package sockets_test

import (
	"fmt"
	"testing"

	"github.com/nanoact/nanoact/sockets"
)

// TestSendMsgLeavesWrapper checks what SendMsg's doc promises: a
// successful send takes only the message's buffers, so the caller may
// reuse the wrapper for another send and then Free it (as rpc, the runner
// and the aio device do), on a socket and on a context alike.
func TestSendMsgLeavesWrapper(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	emptied := func(m *sockets.Msg, on string) {
		t.Helper()
		if m.Body != nil || m.Header != nil {
			t.Fatalf("%s: after a successful SendMsg the wrapper still holds header %q body %q", on, m.Header, m.Body)
		}
	}
	recv := func(s *sockets.Socket, want string) {
		t.Helper()
		r, err := s.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Body) != want {
			t.Fatalf("got %q, want %q", r.Body, want)
		}
		r.Free()
	}

	push, pull := open(t, sockets.Push), open(t, sockets.Pull)
	connect(t, pull, push, fmt.Sprintf("inproc://sendmsg-wrapper-%d", seq.Add(1)))
	m := sockets.NewMsg([]byte("one"))
	if err := push.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	emptied(m, "socket")
	m.Body = append(m.Body, "two"...) // reuse
	if err := push.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	emptied(m, "socket")
	m.Free()
	recv(pull, "one")
	recv(pull, "two")

	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	connect(t, rep, req, fmt.Sprintf("inproc://sendmsg-wrapper-%d", seq.Add(1)))
	rc, err := req.Context()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	m = sockets.NewMsg([]byte("three"))
	if err := rc.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	emptied(m, "context")
	m.Free()
	recv(rep, "three")
}
