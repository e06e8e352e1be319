package testkit

import (
	"context"

	"github.com/nanoact/nanoact/sockets"
)

// Echo sends every message s receives back as it is (a rep's reply to its
// request), on a goroutine of its own, until a receive or send fails, as
// when s is closed. wait returns once that goroutine has ended: close s,
// then wait.
func Echo(s *sockets.Socket) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		for {
			m, err := s.Recv(ctx)
			if err != nil {
				return
			}
			if s.SendMsg(ctx, m) != nil {
				m.Free()
				return
			}
		}
	}()
	return func() { <-done }
}
