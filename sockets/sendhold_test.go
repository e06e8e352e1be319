package sockets_test

import (
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// fillSends makes non-blocking sends on s until one fails, and returns
// how many were queued; it fails the test past limit.
func fillSends(t *testing.T, s *sockets.Socket, limit int) int {
	t.Helper()
	ctx := sockets.NonBlock(ctxT(t))
	for n := 0; n <= limit; n++ {
		m := sockets.NewMsg([]byte{byte(n)})
		if s.Protocol() == sockets.Req { // a raw request carries its id
			m.Header = []byte{0x80, 0, 0, byte(n)}
		}
		if err := s.SendMsg(ctx, m); err != nil {
			m.Free()
			wantCode(t, err, nanoact.ErrTryAgain)
			return n
		}
	}
	t.Fatalf("more than %d sends queued", limit)
	return 0
}

// TestHoldSendRoom: held room deepens the shared send queue beyond
// SendBuffer, which still reports the user's value; holds add up; release
// gives the room back once, keeping what is queued, in order.
func TestHoldSendRoom(t *testing.T) {
	for _, p := range []sockets.Protocol{sockets.Push, sockets.Pair, sockets.Poly, sockets.Req} {
		t.Run(p.String(), func(t *testing.T) {
			ctx := ctxT(t)
			s := open(t, p, sockets.WithRaw())
			if err := sockets.Set(s, sockets.SendBuffer, 1); err != nil {
				t.Fatal(err)
			}
			r1, err := s.HoldSendRoom(3)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := s.HoldSendRoom(4)
			if err != nil {
				t.Fatal(err)
			}
			// No peer: the queue holds send-buffer plus the room held.
			if n := fillSends(t, s, 100); n != 1+3+4 {
				t.Fatalf("queued %d sends, want 8", n)
			}
			if n, err := sockets.Get(s, sockets.SendBuffer); err != nil || n != 1 {
				t.Fatalf("send-buffer %d, %v; want 1", n, err)
			}
			r2()
			r2() // once only
			r1()
			if n := fillSends(t, s, 100); n != 0 {
				t.Fatalf("queued %d more sends after release, want 0", n)
			}
			peer := open(t, p.Peer())
			connect(t, peer, s, "inproc://hold-"+p.String())
			for i := range 8 {
				m, err := peer.RecvMsg(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(m.Body) != 1 || m.Body[0] != byte(i) {
					t.Fatalf("message %d is %v", i, m.Body)
				}
				m.Free()
			}
		})
	}
}

func TestHoldSendRoomErrors(t *testing.T) {
	s := open(t, sockets.Push)
	for _, n := range []int{-1, 8193} {
		if _, err := s.HoldSendRoom(n); err == nil {
			t.Fatalf("HoldSendRoom(%d) succeeded", n)
		} else {
			wantCode(t, err, nanoact.ErrInvalid)
		}
	}
	for _, p := range []sockets.Protocol{sockets.Pub, sockets.Bus, sockets.Rep, sockets.Pull} {
		_, err := open(t, p, sockets.WithRaw()).HoldSendRoom(1)
		wantCode(t, err, nanoact.ErrNotSupported)
	}
	_ = s.Close()
	_, err := s.HoldSendRoom(1)
	wantCode(t, err, nanoact.ErrClosed)
}
