//go:build linux

package sockets_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// readable polls fd with select(2), as a C or R event loop would.
func readable(t *testing.T, fd int, wait time.Duration) bool {
	t.Helper()
	var set syscall.FdSet
	set.Bits[fd/64] |= 1 << (uint(fd) % 64)
	tv := syscall.NsecToTimeval(wait.Nanoseconds())
	n, err := syscall.Select(fd+1, &set, nil, nil, &tv)
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	return n == 1
}

// The receive fd and channel are up exactly while a message waits, and
// looking at them never takes the message.
func TestRecvReadiness(t *testing.T) {
	t.Parallel()
	type pairing struct {
		name       string
		recv, send sockets.Protocol
		prime      func(t *testing.T, recv, send *sockets.Socket) // makes one message wait on recv
	}
	raw := func(t *testing.T, _, send *sockets.Socket) {
		if err := send.Send(ctxT(t), "hello", sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	cases := []pairing{
		{"pull", sockets.Pull, sockets.Push, raw},
		{"pair", sockets.Pair, sockets.Pair, raw},
		{"bus", sockets.Bus, sockets.Bus, raw},
		{"rep", sockets.Rep, sockets.Req, raw},
		{"sub", sockets.Sub, sockets.Pub, func(t *testing.T, recv, send *sockets.Socket) {
			_ = recv.Subscribe("")
			raw(t, recv, send)
		}},
		{"req", sockets.Req, sockets.Rep, func(t *testing.T, req, rep *sockets.Socket) {
			ctx := ctxT(t)
			_ = req.Send(ctx, "q")
			if _, err := rep.Recv(ctx); err != nil {
				t.Fatal(err)
			}
			_ = rep.Send(ctx, "hello", sockets.Raw)
		}},
		{"surveyor", sockets.Surveyor, sockets.Respondent, func(t *testing.T, sur, resp *sockets.Socket) {
			ctx := ctxT(t)
			_ = sur.Send(ctx, "q")
			if _, err := resp.Recv(ctx); err != nil {
				t.Fatal(err)
			}
			_ = resp.Send(ctx, "hello", sockets.Raw)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recv, send := open(t, c.recv), open(t, c.send)
			connect(t, recv, send, fmt.Sprintf("inproc://ready-%d", seq.Add(1)))
			fd, err := recv.RecvFD()
			if err != nil {
				t.Fatal(err)
			}
			ch, err := recv.RecvReady()
			if err != nil {
				t.Fatal(err)
			}
			if readable(t, fd, 0) {
				t.Fatal("fd readable with nothing waiting")
			}
			c.prime(t, recv, send)
			if !readable(t, fd, 5*time.Second) {
				t.Fatal("fd not readable with a message waiting")
			}
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
				t.Fatal("channel not ready with a message waiting")
			}
			// Still there: looking did not consume it.
			if !readable(t, fd, 0) {
				t.Fatal("fd no longer readable after a look")
			}
			v, err := sockets.RecvAs[string](ctxT(t), recv, sockets.Raw)
			if err != nil || v != "hello" {
				t.Fatalf("%q %v", v, err)
			}
			if readable(t, fd, 0) {
				t.Fatal("fd readable after the message was taken")
			}
			next, _ := recv.RecvReady()
			select {
			case <-next:
				t.Fatal("fresh channel ready with nothing waiting")
			default:
			}
		})
	}
	_, err := open(t, sockets.Push).RecvFD()
	wantCode(t, err, nanoact.ErrNotSupported)
	_, err = open(t, sockets.Pub).RecvReady()
	wantCode(t, err, nanoact.ErrNotSupported)
}
