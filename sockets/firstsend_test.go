package sockets_test

import (
	"context"
	"testing"

	"github.com/nanoact/nanoact/sockets"
)

// TestFirstSendAfterDial: a non-blocking send right after a synchronous
// dial returns succeeds, as in NNG, whose pipes take a message the moment
// they are counted (issue 14, item 1). It is tried 20 times per protocol
// and transport, each time on fresh sockets, and must succeed every time.
func TestFirstSendAfterDial(t *testing.T) {
	pairs := []struct {
		name       string
		send, peer sockets.Protocol
	}{
		{"pair", sockets.Pair, sockets.Pair},
		{"poly", sockets.Poly, sockets.Poly},
		{"req", sockets.Req, sockets.Rep},
		{"push", sockets.Push, sockets.Pull},
	}
	for _, tr := range []string{"inproc", "ipc", "tcp", "ws"} {
		for _, pp := range pairs {
			t.Run(tr+"/"+pp.name, func(t *testing.T) {
				for i := range 20 {
					url := transports(t)[tr]
					peer := open(t, pp.peer)
					l, err := peer.Listen(url)
					if err != nil {
						t.Fatal(err)
					}
					s, err := sockets.New(pp.send, sockets.Dial(l.URL(), sockets.Sync))
					if err != nil {
						t.Fatal(err)
					}
					if err := s.Send(sockets.NonBlock(context.Background()), "hi", sockets.Raw); err != nil {
						_ = s.Close()
						t.Fatalf("try %d: first non-blocking send: %v", i, err)
					}
					m, err := peer.Recv(ctxT(t))
					if err != nil {
						t.Fatalf("try %d: recv: %v", i, err)
					}
					m.Free()
					_ = s.Close()
					_ = peer.Close()
				}
			})
		}
	}
}
