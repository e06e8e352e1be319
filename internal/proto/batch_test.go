package proto

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/transport"
)

// batchPipe is a fakePipe whose transport writes several messages at once
// (transport.BatchSender): each SendBatch waits for the test to take the
// batch from batches.
type batchPipe struct {
	*fakePipe
	batches chan []*Message
}

func (b *batchPipe) GetOption(name string) (any, error) {
	if name == transport.OptionBatchSender {
		return transport.BatchSender(b), nil
	}
	return b.fakePipe.GetOption(name)
}

func (b *batchPipe) SendBatch(ms []*Message) error {
	b.entered <- struct{}{}
	cp := append([]*Message(nil), ms...) // the engine reuses its slice
	select {
	case b.batches <- cp:
		return nil
	case <-b.closed:
		return errClosed
	}
}

func attachBatch(t *testing.T, s Socket) *batchPipe {
	t.Helper()
	b := &batchPipe{fakePipe: newFakePipe(), batches: make(chan []*Message)}
	b.sock = s
	if err := s.AddPipe(b); err != nil {
		t.Fatalf("AddPipe: %v", err)
	}
	return b
}

// write returns the bodies of b's next write, a single SendMsg ("a") or
// a SendBatch ("a b c"), failing after 5 s.
func (b *batchPipe) write(t *testing.T) string {
	t.Helper()
	var ms []*Message
	select {
	case m := <-b.out:
		ms = []*Message{m}
	case ms = <-b.batches:
	case <-time.After(wait):
		t.Fatal("nothing written within 5s")
	}
	var s []string
	for _, m := range ms {
		s = append(s, string(m.Body))
		m.Free()
	}
	return strings.Join(s, " ")
}

// A pipe's writer writes what was queued while it was busy with one
// write: the shared queue's messages (push) and its own queue's (pub)
// go together, in order, to the next write.
func TestEngineCoalescesWrites(t *testing.T) {
	for _, id := range []ID{Push, Pub} {
		t.Run(id.String(), func(t *testing.T) {
			s := open(t, id)
			if id == Push {
				if err := s.(Buffered).SetBuffer(true, 8); err != nil {
					t.Fatal(err)
				}
			}
			f := attachBatch(t, s)
			if err := s.Send(nb(), msg("0")); err != nil {
				t.Fatal(err)
			}
			f.busy(t) // the writer holds "0"
			for i := 1; i <= 5; i++ {
				if err := s.Send(nb(), msg(fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []string{"0", "1 2 3 4 5"} {
				if got := f.write(t); got != want {
					t.Fatalf("wrote %q, want %q", got, want)
				}
			}
			eventually(t, s.Flushed)
			if c := s.Counters(); c.TxMsgs != 6 || c.TxBytes != 6 {
				t.Fatalf("counted %d messages, %d bytes; want 6, 6", c.TxMsgs, c.TxBytes)
			}
		})
	}
}

// One sender's messages keep their order through coalesced writes.
func TestEngineCoalescedOrder(t *testing.T) {
	s := open(t, Push)
	if err := s.(Buffered).SetBuffer(true, 64); err != nil {
		t.Fatal(err)
	}
	f := attachBatch(t, s)
	const n = 2000
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := s.Send(context.Background(), msg(fmt.Sprint(i))); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := 0; i < n; {
		for _, got := range strings.Fields(f.write(t)) {
			if got != fmt.Sprint(i) {
				t.Fatalf("message %d is %q", i, got)
			}
			i++
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// With two pipes, a writer takes one message of the shared queue at a
// time, leaving the rest to the other pipe's writer (load balancing).
func TestEngineNoCoalescingAcrossPipes(t *testing.T) {
	s := open(t, Push)
	if err := s.(Buffered).SetBuffer(true, 8); err != nil {
		t.Fatal(err)
	}
	a, b := attachBatch(t, s), attachBatch(t, s)
	for i := range 2 {
		if err := s.Send(nb(), msg(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	a.busy(t)
	b.busy(t) // both writers hold a message
	for i := 2; i < 6; i++ {
		if err := s.Send(nb(), msg(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Each write of either pipe carries one message.
	for range 6 {
		select {
		case m := <-a.out:
			m.Free()
		case m := <-b.out:
			m.Free()
		case ms := <-a.batches:
			t.Fatalf("one write carried %d messages", len(ms))
		case ms := <-b.batches:
			t.Fatalf("one write carried %d messages", len(ms))
		case <-time.After(wait):
			t.Fatal("nothing written within 5s")
		}
	}
}
