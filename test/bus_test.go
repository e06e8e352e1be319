package test

import (
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/bus"
	_ "go.nanomsg.org/mangos/v3/transport/tcp" // mangos' own tcp, for the mangos side

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// TestBusMangos exchanges messages between our bus and a plain mangos bus
// socket over tcp (nngcat 1.5.2 has no bus), with our socket listening and
// then dialing. Our side runs nanoact's tcp transport, mangos' side its
// own, so this checks the wire format, not shared code.
func TestBusMangos(t *testing.T) {
	for _, nanoListens := range []bool{true, false} {
		name := "mangos-dials"
		if !nanoListens {
			name = "mangos-listens"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			nb := open(t, sockets.Bus)
			mb, err := bus.NewSocket()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = mb.Close() })
			// A mangos bus never blocks a send; bound its receives.
			if err := mb.SetOption(mangos.OptionRecvDeadline, opLimit); err != nil {
				t.Fatal(err)
			}
			// A bus sends only to the peers it has: wait until both
			// sides hold the connection.
			attached := make(chan struct{}, 1)
			mb.SetPipeEventHook(func(ev mangos.PipeEvent, _ mangos.Pipe) {
				if ev == mangos.PipeEventAttached {
					select {
					case attached <- struct{}{}:
					default:
					}
				}
			})
			if nanoListens {
				l, err := nb.Listen("tcp://127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				if err := mb.Dial(l.URL()); err != nil {
					t.Fatalf("mangos dial %s: %v", l.URL(), err)
				}
			} else {
				url := "tcp://127.0.0.1:" + testkit.FreePort(t)
				if err := mb.Listen(url); err != nil {
					t.Fatalf("mangos listen %s: %v", url, err)
				}
				if _, err := nb.Dial(url, sockets.Sync); err != nil {
					t.Fatal(err)
				}
			}
			waitPipes(t, nb, 1)
			tm := time.NewTimer(opLimit)
			defer tm.Stop()
			select {
			case <-attached:
			case <-tm.C:
				t.Fatal("mangos bus never attached a pipe")
			}

			ctx := ctxT(t)
			send(t, ctx, nb, []byte{0, 1, 0xfe, 0})
			send(t, ctx, nb, "bus hello")
			send(t, ctx, nb, []float64{1.5, -2})
			for i, want := range [][]byte{{0, 1, 0xfe, 0}, []byte("bus hello\x00"), le(1.5, -2)} {
				got, err := mb.Recv()
				if err != nil {
					t.Fatalf("mangos recv %d: %v", i, err)
				}
				wantBytes(t, "mangos received", got, want)
			}

			for _, b := range [][]byte{[]byte("from mangos"), {0, 0, 0}, le(3.25)} {
				if err := mb.Send(b); err != nil {
					t.Fatalf("mangos send: %v", err)
				}
			}
			wantBytes(t, "bus received", recvBytes(t, ctx, nb), []byte("from mangos"))
			wantBytes(t, "bus received", recvBytes(t, ctx, nb), []byte{0, 0, 0})
			f, err := sockets.RecvAs[[]float64](ctx, nb, sockets.Raw)
			if err != nil || len(f) != 1 || f[0] != 3.25 {
				t.Fatalf("bus RecvAs[[]float64] = %v, %v; want [3.25]", f, err)
			}
		})
	}
}
