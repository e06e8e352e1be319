package aio_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

const orderN = 10_000

// seqBytes is the raw payload of send number i.
func seqBytes(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }

// recvSeq receives n messages of seqBytes on s (on its own goroutine) and
// reports the first that is out of order, or the receive error.
func recvSeq(ctx context.Context, s sockets.Conn, n int, strict bool) <-chan error {
	out := make(chan error, 1)
	go func() {
		last := -1
		for range n {
			m, err := s.RecvMsg(ctx)
			if err != nil {
				out <- err
				return
			}
			got := int(binary.BigEndian.Uint32(m.Body))
			m.Free()
			if (strict && got != last+1) || got <= last {
				out <- fmt.Errorf("message %d after %d", got, last)
				return
			}
			last = got
			if last == n-1 {
				break
			}
		}
		out <- nil
	}()
	return out
}

// sendSeq sends n aios of seqBytes on c, from one goroutine, and returns
// them.
func sendSeq(c sockets.Conn, n int) []*aio.SendAio {
	as := make([]*aio.SendAio, n)
	for i := range as {
		as[i] = aio.Send(c, sockets.NewMsg(seqBytes(i)))
	}
	return as
}

// Aio sends on one socket, context or stream go out in the order they were
// submitted, even when some have to wait for room and later ones could
// go at once (NNG's send aios on a socket are queued in order).
func TestSendOrder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		send, recv sockets.Protocol
	}{
		{"push-pull", sockets.Push, sockets.Pull},
		{"pair", sockets.Pair, sockets.Pair},
	} {
		for _, tr := range []string{"inproc", "tcp"} {
			t.Run(tc.name+"/"+tr, func(t *testing.T) {
				recv := open(t, tc.recv)
				send := open(t, tc.send)
				connect(t, recv, send, benchURL(tr))
				ctx := ctxT(t)
				got := recvSeq(ctx, recv, orderN, true)
				as := sendSeq(send, orderN)
				if err := <-got; err != nil {
					t.Fatal(err)
				}
				waitSent(t, ctx, as)
			})
		}
	}
}

// On a req context every request replaces the one before, which is then
// not sent if it is still waiting (ErrCanceled): the requests that do go
// out arrive in order, the last one among them.
func TestSendOrderReqContext(t *testing.T) {
	rep := open(t, sockets.Rep)
	req := open(t, sockets.Req)
	connect(t, rep, req, "")
	rc, err := req.Context()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	ctx := ctxT(t)
	got := recvSeq(ctx, rep, orderN, false)
	as := sendSeq(rc, orderN)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	for i, a := range as {
		if _, err := a.Value(ctx); err != nil && !errors.Is(err, nanoact.ErrCanceled) {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

// A stream's aio sends are written in order too.
func TestSendOrderStream(t *testing.T) {
	c, s := streamPair(t)
	ctx := ctxT(t)
	got := make(chan error, 1)
	go func() {
		b := make([]byte, 4*orderN)
		if _, err := io.ReadFull(streamReader{ctx, s}, b); err != nil {
			got <- err
			return
		}
		for i := range orderN {
			if v := int(binary.BigEndian.Uint32(b[4*i:])); v != i {
				got <- fmt.Errorf("at %d: %d", i, v)
				return
			}
		}
		got <- nil
	}()
	as := make([]*aio.SendAio, orderN)
	for i := range as {
		as[i] = aio.Send(c, seqBytes(i), aio.Mode(sockets.Raw))
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	waitSent(t, ctx, as)
}

// waitSent fails t unless every send in as succeeded.
func waitSent(t *testing.T, ctx context.Context, as []*aio.SendAio) {
	t.Helper()
	if _, errs := aio.CollectAll(ctx, as); errs != nil {
		t.Fatal(errors.Join(errs...))
	}
}

// streamReader reads a stream as an io.Reader.
type streamReader struct {
	ctx context.Context
	s   *sockets.Stream
}

func (r streamReader) Read(p []byte) (int, error) {
	m, err := r.s.RecvMsg(r.ctx)
	if err != nil {
		return 0, err
	}
	n := copy(p, m.Body)
	if n < len(m.Body) {
		return n, errors.New("read more than asked")
	}
	return n, nil
}

// A send waiting behind another can be stopped (ErrCanceled) or time out
// (ErrTimedOut) without waiting for the one ahead, and is then never sent;
// the others still go, in order. Closing the socket fails those still
// waiting with ErrClosed.
func TestQueuedSendStopTimeoutClose(t *testing.T) {
	push := open(t, sockets.Push)
	ctx := ctxT(t)
	// No peer yet: every send waits, the first at the head.
	first := aio.Send(push, sockets.NewMsg(seqBytes(0)))
	stopped := aio.Send(push, sockets.NewMsg(seqBytes(100)))
	expired := aio.Send(push, sockets.NewMsg(seqBytes(101)), aio.Timeout(20*time.Millisecond))
	third := aio.Send(push, sockets.NewMsg(seqBytes(1)))
	stopped.Stop()
	_, err := stopped.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	_, err = expired.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if aio.CountUnresolved(first, third) != 2 {
		t.Fatal("sends resolved without a peer")
	}
	immediate := aio.Send(push, sockets.NewMsg(seqBytes(102)), aio.Timeout(0))
	_, err = immediate.Result()
	wantCode(t, err, nanoact.ErrTimedOut) // it may not overtake the others

	pull := open(t, sockets.Pull)
	connect(t, pull, push, "")
	for i := range 2 {
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v := int(binary.BigEndian.Uint32(m.Body)); v != i {
			t.Fatalf("got %d, want %d", v, i)
		}
	}
	waitSent(t, ctx, []*aio.SendAio{first, third})

	// Closing: every waiting send fails with ErrClosed.
	lone := open(t, sockets.Push)
	waiting := sendSeq(lone, 50)
	_ = lone.Close()
	for i, a := range waiting {
		_, err := a.Value(ctx)
		if !errors.Is(err, nanoact.ErrClosed) {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}
