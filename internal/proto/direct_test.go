package proto

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/nanoact/nanoact/internal/transport"
)

// tryPipe is a fakePipe whose transport offers a direct hand-off
// (transport.TrySender, as inproc's pipes do): while open is set, TrySend
// succeeds, putting the message on direct, as a peer's receiver waiting
// for it would take it; otherwise it fails, as with a busy receiver.
type tryPipe struct {
	*fakePipe
	open   atomic.Bool
	direct chan *Message
}

func (p *tryPipe) GetOption(name string) (any, error) {
	if name == transport.OptionTrySender {
		return transport.TrySender(p), nil
	}
	return p.fakePipe.GetOption(name)
}

func (p *tryPipe) TrySend(m *Message) bool {
	if !p.open.Load() {
		return false
	}
	select {
	case p.direct <- m:
		return true
	default:
		return false
	}
}

func attachTry(t *testing.T, s Socket) *tryPipe {
	t.Helper()
	p := &tryPipe{fakePipe: newFakePipe(), direct: make(chan *Message, 16)}
	p.sock = s
	if err := s.AddPipe(p); err != nil {
		t.Fatalf("AddPipe: %v", err)
	}
	return p
}

// tookDirect returns the next message handed over directly, failing if
// there is none.
func (p *tryPipe) tookDirect(t *testing.T, want string) {
	t.Helper()
	select {
	case m := <-p.direct:
		if string(m.Body) != want {
			t.Fatalf("handed over %q, want %q", m.Body, want)
		}
	default:
		t.Fatalf("%q was not handed over directly", want)
	}
}

// A send to a pipe whose peer waits goes to it directly, without its
// writer, and is counted; one sent while an earlier message for that
// pipe is still unwritten waits behind it, so the order holds. Both for
// a send to the pipe alone (poly's SendTo) and on the shared queue of a
// socket with one pipe (Send).
func TestEngineDirectSendKeepsOrder(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "to pipe", true: "shared queue"}[shared], func(t *testing.T) {
			s := open(t, Poly)
			p := attachTry(t, s)
			send := func(body string) {
				t.Helper()
				var err error
				if shared {
					err = s.Send(context.Background(), msg(body))
				} else {
					err = s.(DirectSender).SendTo(context.Background(), p.ID(), msg(body))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			p.open.Store(true)
			send("1")
			p.tookDirect(t, "1")
			if c := s.Counters(); c.TxMsgs != 1 {
				t.Fatalf("tx %d after a direct send", c.TxMsgs)
			}
			// The peer busy: "2" goes to the writer, which holds it.
			p.open.Store(false)
			send("2")
			p.busy(t)
			// The peer free again while "2" is unwritten: "3" waits.
			p.open.Store(true)
			send("3")
			if len(p.direct) != 0 {
				t.Fatal("a message overtook one still unwritten")
			}
			for _, want := range []string{"2", "3"} {
				if m := p.written(t); string(m.Body) != want {
					t.Fatalf("wrote %q, want %q", m.Body, want)
				}
			}
			eventually(t, s.Flushed)
			send("4")
			p.tookDirect(t, "4")
			if c := s.Counters(); c.TxMsgs != 4 {
				t.Fatalf("tx %d after 4 sends", c.TxMsgs)
			}
		})
	}
}

// With two pipes, a send on the shared queue goes to whichever writer is
// free, never directly: the direct hand-off is for a socket's one pipe.
func TestEngineNoDirectSendWithTwoPipes(t *testing.T) {
	s := open(t, Poly)
	p := attachTry(t, s)
	q := attach(t, s)
	p.open.Store(true)
	if err := s.Send(context.Background(), msg("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-p.out:
		if string(m.Body) != "x" {
			t.Fatalf("wrote %q", m.Body)
		}
	case m := <-q.out:
		if string(m.Body) != "x" {
			t.Fatalf("wrote %q", m.Body)
		}
	case <-p.direct:
		t.Fatal("handed over directly with two pipes")
	case <-ctxT(t).Done():
		t.Fatal("not written")
	}
}
