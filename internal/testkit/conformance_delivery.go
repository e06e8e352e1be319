package testkit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// sendPairs are the protocol pairs whose first side sends to the second.
var sendPairs = []struct{ send, recv sockets.Protocol }{
	{sockets.Pair, sockets.Pair},
	{sockets.Poly, sockets.Poly},
	{sockets.Req, sockets.Rep},
	{sockets.Push, sockets.Pull},
	{sockets.Bus, sockets.Bus},
	{sockets.Pub, sockets.Sub},
	{sockets.Surveyor, sockets.Respondent},
}

// openRecv opens a receiving socket; a sub subscribes to everything.
func openRecv(t *testing.T, k *Link, p sockets.Protocol, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s := k.Open(p, opts...)
	if p == sockets.Sub {
		if err := s.Subscribe(""); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
	}
	return s
}

// firstSendCases: NNG's pipes take a message as soon as they are
// counted, so a non-blocking send right after a synchronous dial (or, on
// the listening side, once Pipes() > 0) succeeds, and the message
// arrives (issue 14, item 1).
func firstSendCases() []ConfCase {
	const tries = 3
	var cs []ConfCase
	for _, sp := range sendPairs {
		name := sp.send.String() + "-" + sp.recv.String() + "/first-send/"
		cs = append(cs, ConfCase{Name: name + "after-sync-dial", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			for i := range tries {
				// Odd tries dial in New, as nanonext's socket(dial = ).
				rcv := openRecv(t, k, sp.recv)
				url := k.Listen(rcv)
				var snd *sockets.Socket
				if i%2 == 0 {
					snd = k.Open(sp.send)
					k.Dial(snd, url)
				} else {
					snd = k.Open(sp.send, k.DialOption(url))
				}
				body := seqMsg(i)
				if err := snd.Send(sockets.NonBlock(ctx), body, sockets.Raw); err != nil {
					t.Fatalf("try %d: non-blocking %s send right after a sync dial: %v (C NNG: succeeds)", i, sp.send, err)
				}
				WantBody(t, ctx, rcv, body)
				_ = snd.Close()
				_ = rcv.Close()
			}
		}})
		cs = append(cs, ConfCase{Name: name + "listener-once-piped", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			for i := range tries {
				snd, rcv := k.Open(sp.send), openRecv(t, k, sp.recv)
				k.Dial(rcv, k.Listen(snd))
				WaitPipes(t, snd, 1)
				body := seqMsg(i)
				if err := snd.Send(sockets.NonBlock(ctx), body, sockets.Raw); err != nil {
					t.Fatalf("try %d: non-blocking %s send once Pipes() = 1: %v (C NNG: succeeds)", i, sp.send, err)
				}
				WantBody(t, ctx, rcv, body)
				_ = snd.Close()
				_ = rcv.Close()
			}
		}})
	}
	cs = append(cs, ConfCase{Name: "req-rep/first-send/context-after-sync-dial", Run: func(t *testing.T, k *Link) {
		ctx := CtxT(t)
		req, rep := k.Open(sockets.Req), k.Open(sockets.Rep)
		k.Dial(req, k.Listen(rep))
		c := conn(t, req, true)
		if err := c.Send(sockets.NonBlock(ctx), []byte("q"), sockets.Raw); err != nil {
			t.Fatalf("non-blocking req context send right after a sync dial: %v (C NNG: succeeds)", err)
		}
		WantBody(t, ctx, rep, []byte("q"))
		if err := rep.Send(sockets.NonBlock(ctx), []byte("a"), sockets.Raw); err != nil {
			t.Fatalf("non-blocking rep reply: %v", err)
		}
		WantBody(t, ctx, c, []byte("a"))
	}})
	return cs
}

// resendCases: a req sends an unanswered request again after its resend
// time, on the same pipe with the same request id; when the pipe carrying
// it dies the request goes at once to another peer, connected already or
// later (issue 14, item 2), or fails with ErrConnReset when resending is
// off.
func resendCases() []ConfCase {
	var cs []ConfCase
	for _, onCtx := range []bool{false, true} {
		cs = append(cs, resendCase(onCtx))
	}
	for _, onCtx := range []bool{false, true} {
		for _, later := range []bool{false, true} {
			cs = append(cs, failoverCase(later, onCtx))
		}
	}
	cs = append(cs, ConfCase{Name: "req-rep/resend/off-pipe-dies", Run: func(t *testing.T, k *Link) {
		ctx := CtxT(t)
		req, rep := k.Open(sockets.Req), k.Open(sockets.Rep)
		if err := sockets.Set(req, sockets.ResendTime, 0); err != nil {
			t.Fatal(err)
		}
		k.Connect(req, rep)
		MustSend(t, ctx, req, []byte("q"))
		WantBody(t, ctx, rep, []byte("q"))
		_ = rep.Close()
		_, err := req.Recv(ctx)
		WantCode(t, "req receive after its pipe died, resending off", err, nanoact.ErrConnReset)
	}})
	return cs
}

// resendCase: an unanswered request goes again after the resend time
// set on the req socket or on the context, with the same request id; of
// two answers to it, the second is a stale reply, dropped and counted.
func resendCase(onCtx bool) ConfCase {
	return ConfCase{Name: "req-rep/resend/resend-time-" + where(onCtx), Run: func(t *testing.T, k *Link) {
		ctx := CtxT(t)
		req, rep := k.Open(sockets.Req), k.Open(sockets.Rep, sockets.WithRaw())
		k.Connect(req, rep)
		c := conn(t, req, onCtx)
		if err := sockets.Set(c.(sockets.Optioner), sockets.ResendTime, 30*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		MustSend(t, ctx, c, []byte("again?"))
		first, err := rep.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		second, err := rep.Recv(ctx)
		if err != nil {
			t.Fatalf("no resend: %v", err)
		}
		if string(first.Body) != "again?" || string(second.Body) != "again?" || string(first.Header) != string(second.Header) {
			t.Fatalf("request %q header % x, resent as %q header % x: want the same body and request id", first.Body, first.Header, second.Body, second.Header)
		}
		if n := stat(t, req, "req_resent"); n < 1 {
			t.Fatalf("req_resent = %d after a resend", n)
		}
		// Both copies are answered: the first answer completes the
		// request, the second is a stale reply, dropped and counted.
		for _, q := range []*sockets.Msg{first, second} {
			reply := sockets.NewMsg([]byte("answer"))
			reply.Header = append(reply.Header, q.Header...)
			if err := rep.SendMsg(ctx, reply); err != nil {
				t.Fatal(err)
			}
		}
		WantBody(t, ctx, c, []byte("answer"))
		WaitStat(t, req, "drop_stale_reply", 1)
		_, err = c.RecvMsg(sockets.NonBlock(ctx))
		WantCode(t, "req receive after its reply", err, nanoact.ErrState)
	}}
}

// failoverCase: a req (socket or context) whose request's pipe dies
// sends the request at once to another rep, one connected already or one
// that connects later.
func failoverCase(later, onCtx bool) ConfCase {
	name := "req-rep/resend/failover-to-connected-" + where(onCtx)
	if later {
		name = "req-rep/resend/failover-to-later-peer-" + where(onCtx)
	}
	return ConfCase{Name: name, Run: func(t *testing.T, k *Link) {
		ctx := CtxT(t)
		// The default resend time (1 min) is far beyond the case's
		// limit: only the failover can deliver.
		req := k.Open(sockets.Req)
		url := k.Listen(req)
		c := conn(t, req, onCtx)
		rep1, rep2 := k.Open(sockets.Rep), k.Open(sockets.Rep)
		k.Dial(rep1, url)
		WaitPipes(t, req, 1)
		MustSend(t, ctx, c, []byte("who answers?"))
		WantBody(t, ctx, rep1, []byte("who answers?"))
		if !later {
			k.Dial(rep2, url)
			WaitPipes(t, req, 2)
		}
		if err := rep1.Close(); err != nil {
			t.Fatal(err)
		}
		if later {
			WaitPipes(t, req, 0)
			k.Dial(rep2, url)
		}
		WantBody(t, ctx, rep2, []byte("who answers?"))
		MustSend(t, ctx, rep2, []byte("rep2"))
		WantBody(t, ctx, c, []byte("rep2"))
		if n := stat(t, req, "req_resent"); n != 1 {
			t.Fatalf("req_resent = %d after one failover, want 1", n)
		}
	}}
}

// dropCases: a sub whose receive queue is full drops the oldest message
// (sub:prefnew, the default) or the new one; a pub drops the oldest
// message queued for a subscriber that cannot keep up (issue 14, item 3),
// so that the newest always arrives.
func dropCases() []ConfCase {
	// paced sends n messages, each once the sub has taken the one
	// before (rx_msgs counts a message once it is queued), so that only
	// the sub's queue can drop.
	paced := func(t *testing.T, ctx context.Context, pub, sub *sockets.Socket, n int) {
		t.Helper()
		for i := range n {
			MustSend(t, ctx, pub, seqMsg(i))
			WaitStat(t, sub, "rx_msgs", int64(i+1))
		}
	}
	subQueue := func(prefNew bool, want []int) func(t *testing.T, k *Link) {
		return func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			pub, sub := k.Open(sockets.Pub), openRecv(t, k, sockets.Sub)
			if err := sockets.Set(sub, sockets.RecvBuffer, 4); err != nil {
				t.Fatal(err)
			}
			if err := sockets.Set(sub, sockets.SubPrefNew, prefNew); err != nil {
				t.Fatal(err)
			}
			k.Connect(sub, pub)
			paced(t, ctx, pub, sub, 10)
			for _, w := range want {
				WantBody(t, sockets.NonBlock(ctx), sub, seqMsg(w))
			}
			_, err := sub.Recv(sockets.NonBlock(ctx))
			WantCode(t, "sub receive after its queue is drained", err, nanoact.ErrTryAgain)
			if d := stat(t, sub, "drop_recv_full"); d != int64(10-len(want)) {
				t.Fatalf("sub drop_recv_full = %d, want %d", d, 10-len(want))
			}
		}
	}
	return []ConfCase{
		{Name: "pub-sub/drop/sub-full-queue-drops-oldest", Run: subQueue(true, []int{6, 7, 8, 9})},
		{Name: "pub-sub/drop/sub-prefnew-false-drops-new", Run: subQueue(false, []int{0, 1, 2, 3})},
		{Name: "pub-sub/drop/recv-buffer-set-after-connect", Run: func(t *testing.T, k *Link) {
			// recv-buffer may be set at any time, as in NNG: here on a
			// socket made with New(p, Listen(url)), already connected.
			ctx := CtxT(t)
			pub := k.Open(sockets.Pub)
			sub := openRecv(t, k, sockets.Sub)
			k.Connect(sub, pub)
			if err := sockets.Set(sub, sockets.RecvBuffer, 2); err != nil {
				t.Fatalf("recv-buffer on a connected sub: %v", err)
			}
			if err := sockets.Set(pub, sockets.SendBuffer, 8); err != nil && !errors.Is(err, nanoact.ErrNotSupported) {
				t.Fatalf("send-buffer on a connected pub: %v", err)
			}
			paced(t, ctx, pub, sub, 5)
			for _, w := range []int{3, 4} {
				WantBody(t, sockets.NonBlock(ctx), sub, seqMsg(w))
			}
			if d := stat(t, sub, "drop_recv_full"); d != 3 {
				t.Fatalf("sub drop_recv_full = %d, want 3", d)
			}
		}},
		{Name: "surveyor-respondent/drop/late-answer", Run: func(t *testing.T, k *Link) {
			// An answer after its survey ended is dropped and counted;
			// the next survey does not see it.
			ctx := CtxT(t)
			sv, resp := k.Pair(sockets.Surveyor, sockets.Respondent)
			if err := sv.SetSurveyTime(250 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			MustSend(t, ctx, sv, []byte("first"))
			ended := pendingRecv(sv)
			WantBody(t, ctx, resp, []byte("first"))
			wantPendingErr(t, "surveyor receive as the survey ends", ended, nanoact.ErrTimedOut)
			MustSend(t, ctx, resp, []byte("late"))
			WaitStat(t, sv, "drop_late_answer", 1)
			if err := sv.SetSurveyTime(confLimit); err != nil {
				t.Fatal(err)
			}
			MustSend(t, ctx, sv, []byte("second"))
			WantBody(t, ctx, resp, []byte("second"))
			MustSend(t, ctx, resp, []byte("on time"))
			WantBody(t, ctx, sv, []byte("on time"))
		}},
		{Name: "pub-sub/drop/pub-drops-oldest", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			const n = 300
			pub, sub := k.Open(sockets.Pub), openRecv(t, k, sockets.Sub)
			if err := sockets.Set(sub, sockets.RecvBuffer, 8192); err != nil {
				t.Fatal(err)
			}
			k.Connect(sub, pub)
			for i := range n {
				MustSend(t, ctx, pub, seqMsg(i))
			}
			// Whatever was dropped, the newest message arrives last
			// and the rest in order.
			last, got := -1, 0
			for last != n-1 {
				b := MustRecv(t, ctx, sub)
				i := seqOf(b)
				if i <= last {
					t.Fatalf("after message %d came %q: want increasing order, ending with %d", last, b, n-1)
				}
				last, got = i, got+1
			}
			// Every message is accounted for: received, or dropped by
			// the pub or the sub and counted.
			pubDrops, subDrops := stat(t, pub, "drop_pub_full"), stat(t, sub, "drop_recv_full")
			if int64(got)+pubDrops+subDrops != n {
				t.Fatalf("%d received + %d dropped by pub (drop_pub_full) + %d by sub (drop_recv_full) != %d sent", got, pubDrops, subDrops, n)
			}
		}},
	}
}

// orderCases: the sends of one sender arrive in the order they were made,
// byte for byte: sync sends on every one-to-one protocol, and aio sends
// (issue 14, item 7).
func orderCases() []ConfCase {
	type flow struct {
		send, recv sockets.Protocol
		n          int
	}
	// A bus never blocks a send: it drops what its peer's queue (16
	// messages) cannot take, so its burst fits that queue.
	syncFlows := []flow{{sockets.Push, sockets.Pull, 200}, {sockets.Pair, sockets.Pair, 200}, {sockets.Poly, sockets.Poly, 200}, {sockets.Bus, sockets.Bus, 12}}
	aioFlows := []flow{{sockets.Push, sockets.Pull, 200}, {sockets.Pair, sockets.Pair, 200}, {sockets.Poly, sockets.Poly, 200}, {sockets.Bus, sockets.Bus, 12}}
	var cs []ConfCase
	for _, f := range syncFlows {
		cs = append(cs, ConfCase{Name: f.send.String() + "-" + f.recv.String() + "/order/sync-sends", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			snd, rcv := k.Pair(f.send, f.recv)
			done := make(chan error, 1)
			go func() {
				for i := range f.n {
					if err := snd.Send(ctx, seqMsg(i), sockets.Raw); err != nil {
						done <- fmt.Errorf("send %d: %w", i, err)
						return
					}
				}
				done <- nil
			}()
			// On failure, closing the sender ends the sending goroutine.
			defer func() { _ = snd.Close() }()
			for i := range f.n {
				WantBody(t, ctx, rcv, seqMsg(i))
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}})
	}
	for _, f := range aioFlows {
		cs = append(cs, ConfCase{Name: f.send.String() + "-" + f.recv.String() + "/order/aio-sends", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			snd, rcv := k.Pair(f.send, f.recv)
			as := make([]aio.Resolvable, f.n)
			for i := range f.n {
				as[i] = aio.Send(snd, seqMsg(i), aio.Mode(sockets.Raw))
			}
			for i := range f.n {
				WantBody(t, ctx, rcv, seqMsg(i))
			}
			if err := aio.WaitAll(ctx, as...); err != nil {
				t.Fatalf("aio sends: %v", err)
			}
		}})
	}
	cs = append(cs, ConfCase{Name: "req-rep/order/contexts", Run: func(t *testing.T, k *Link) {
		// Several contexts' requests each get their own reply.
		ctx := CtxT(t)
		req, rep := k.Pair(sockets.Req, sockets.Rep)
		const m = 8
		cs := make([]sockets.AsyncConn, m)
		for i := range cs {
			cs[i] = conn(t, req, true)
			MustSend(t, ctx, cs[i], seqMsg(i))
		}
		for range m {
			q := MustRecv(t, ctx, rep)
			MustSend(t, ctx, rep, append([]byte("re:"), q...))
		}
		for i, c := range cs {
			WantBody(t, ctx, c, append([]byte("re:"), seqMsg(i)...))
		}
	}})
	return cs
}
