package sockets_test

import (
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// A connection of a socket with a receive gate may send only messages up
// to the gate until OpenRecvGate; a longer one closes it and is counted
// as oversize. After OpenRecvGate, recv-size-max alone applies.
func TestRecvGate(t *testing.T) {
	for name, url := range transports(t) {
		if name == "inproc" {
			continue // no gate: its messages were allocated by the sender
		}
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			srv := open(t, sockets.Poly, sockets.WithRecvGate(100), sockets.WithRecvSizeMax(1<<20))
			l, err := srv.Listen(url)
			if err != nil {
				t.Fatal(err)
			}
			dropped := make(chan uint32, 4)
			if _, err := srv.WatchPipes(func(ev sockets.PipeEvent) {
				if !ev.Added {
					dropped <- ev.Pipe
				}
			}); err != nil {
				t.Fatal(err)
			}

			// Over the gate before it opens: the connection is closed.
			bad := open(t, sockets.Poly)
			if _, err := bad.Dial(l.URL(), sockets.Sync); err != nil {
				t.Fatal(err)
			}
			if err := bad.Send(ctx, make([]byte, 200), sockets.Raw); err != nil {
				t.Fatal(err)
			}
			select {
			case <-dropped:
			case <-ctx.Done():
				t.Fatal("a message over the gate did not close its connection")
			}
			if n, _ := srv.Stat("oversize"); n != 1 {
				t.Fatalf("oversize %d", n)
			}
			_ = bad.Close()

			// Within the gate, then opened: large messages pass.
			good := open(t, sockets.Poly)
			if _, err := good.Dial(l.URL(), sockets.Sync); err != nil {
				t.Fatal(err)
			}
			if err := good.Send(ctx, []byte("hello"), sockets.Raw); err != nil {
				t.Fatal(err)
			}
			m, err := srv.RecvMsg(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pipe := m.Pipe
			m.Free()
			if err := srv.OpenRecvGate(pipe); err != nil {
				t.Fatal(err)
			}
			if err := good.Send(ctx, make([]byte, 64<<10), sockets.Raw); err != nil {
				t.Fatal(err)
			}
			m, err = srv.RecvMsg(ctx)
			if err != nil {
				t.Fatalf("after OpenRecvGate: %v", err)
			}
			if len(m.Body) != 64<<10 {
				t.Fatalf("got %d bytes", len(m.Body))
			}
			m.Free()
			// recv-size-max still applies.
			if err := good.Send(ctx, make([]byte, 2<<20), sockets.Raw); err != nil {
				t.Fatal(err)
			}
			select {
			case p := <-dropped:
				if p != pipe {
					t.Fatalf("pipe %d dropped, want %d", p, pipe)
				}
			case <-ctx.Done():
				t.Fatal("recv-size-max not enforced after OpenRecvGate")
			}
			if err := srv.OpenRecvGate(pipe); nanoact.CodeOf(err) != nanoact.CodeNotFound {
				t.Fatalf("gone pipe: %v", err)
			}
		})
	}
	// inproc connections have no gate.
	a := open(t, sockets.Poly, sockets.WithRecvGate(100))
	b := open(t, sockets.Poly)
	connect(t, a, b, transports(t)["inproc"])
	ctx := ctxT(t)
	if err := b.Send(ctx, []byte("x"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	m, err := a.RecvMsg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := a.OpenRecvGate(m.Pipe); nanoact.CodeOf(err) != nanoact.CodeNotSupported {
		t.Fatalf("inproc: %v", err)
	}
}

// A pipe a message just came from can be acted on at once (OpenRecvGate,
// ClosePipe), even before mangos has told the socket the pipe is attached:
// the dispatcher opens a daemon's gate as soon as its hello arrives.
func TestPipeFoundOnFirstMessage(t *testing.T) {
	for name, url := range transports(t) {
		if name == "inproc" {
			continue // no gate
		}
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			srv := open(t, sockets.Pull, sockets.WithRecvGate(100))
			l, err := srv.Listen(url)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 50 {
				c := open(t, sockets.Push)
				if _, err := c.Dial(l.URL(), sockets.Sync); err != nil {
					t.Fatal(err)
				}
				if err := c.Send(ctx, []byte("hello"), sockets.Raw); err != nil {
					t.Fatal(err)
				}
				m, err := srv.RecvMsg(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := srv.OpenRecvGate(m.Pipe); err != nil {
					t.Fatalf("connection %d: OpenRecvGate on the pipe of its first message: %v", i, err)
				}
				if err := srv.ClosePipe(m.Pipe); err != nil {
					t.Fatalf("connection %d: ClosePipe: %v", i, err)
				}
				m.Free()
				_ = c.Close()
			}
		})
	}
}
