package testkit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// ConfCase is one conformance case: Run checks one behaviour over the
// transport of the Link it is given.
type ConfCase struct {
	// Name is "<protocols>/<concern>/<what>", e.g. "req-rep/state/recv-before-send".
	Name string
	Run  func(t *testing.T, k *Link)
}

// RunConformance runs every case of ConfCases over every transport of
// ConfTransports, as subtests "<transport>/<case>"; the transports run in
// parallel, the cases of one transport one after the other. Call it from
// a test of a package whose TestMain checks for leaked goroutines.
func RunConformance(t *testing.T) {
	for _, tr := range ConfTransports() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			for _, c := range ConfCases() {
				t.Run(c.Name, func(t *testing.T) { c.Run(t, NewLink(t, tr)) })
			}
		})
	}
}

// ConfCases returns the conformance table, every case written against
// NNG 1.x's behaviour.
func ConfCases() []ConfCase {
	var cs []ConfCase
	cs = append(cs, stateCases()...)
	cs = append(cs, firstSendCases()...)
	cs = append(cs, resendCases()...)
	cs = append(cs, dropCases()...)
	cs = append(cs, closeCases()...)
	cs = append(cs, orderCases()...)
	cs = append(cs, rawCases()...)
	cs = append(cs, peerCases()...)
	return cs
}

// peerCases: pair (v0) keeps one peer at a time and refuses a second;
// poly directs a send to the pipe it names, and only there.
func peerCases() []ConfCase {
	return []ConfCase{
		{Name: "pair-pair/peers/second-peer-refused", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			a, b := k.Open(sockets.Pair), k.Open(sockets.Pair)
			url := k.Listen(a)
			k.Dial(b, url)
			WaitPipes(t, a, 1)
			// A third socket dials: the pair closes that connection,
			// which the dialer sees as a disconnect (and then redials).
			c := k.Open(sockets.Pair)
			d, err := c.Dial(url, k.endpointOpts(sockets.Async)...)
			if err != nil {
				t.Fatal(err)
			}
			WaitFor(t, "second peer's connection closed", nil, func() bool {
				n, err := d.Stat("disconnect")
				return err == nil && n >= 1
			})
			if n := a.Pipes(); n != 1 {
				t.Fatalf("pair has %d pipes after a second peer tried, want 1", n)
			}
			MustSend(t, ctx, a, []byte("to b"))
			WantBody(t, ctx, b, []byte("to b"))
			MustSend(t, ctx, b, []byte("to a"))
			WantBody(t, ctx, a, []byte("to a"))
			if m, err := c.Recv(sockets.NonBlock(ctx)); err == nil {
				t.Fatalf("the refused peer got %q", m.Body)
			}
		}},
		{Name: "poly-poly/peers/directed-send", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			hub := k.Open(sockets.Poly)
			url := k.Listen(hub)
			b, c := k.Open(sockets.Poly), k.Open(sockets.Poly)
			k.Dial(b, url)
			k.Dial(c, url)
			WaitPipes(t, hub, 2)
			// Each peer says hello; the hub learns their pipes.
			MustSend(t, ctx, b, []byte("b"))
			MustSend(t, ctx, c, []byte("c"))
			pipes := map[string]uint32{}
			for range 2 {
				m, err := hub.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				pipes[string(m.Body)] = m.Pipe
				m.Free()
			}
			for _, to := range []struct {
				name string
				s    *sockets.Socket
			}{{"b", b}, {"c", c}, {"b", b}} {
				if err := hub.Send(ctx, []byte("for "+to.name), sockets.Raw, sockets.ToPipe(pipes[to.name])); err != nil {
					t.Fatal(err)
				}
				WantBody(t, ctx, to.s, []byte("for "+to.name))
			}
			for _, s := range []*sockets.Socket{b, c} {
				if m, err := s.Recv(sockets.NonBlock(ctx)); err == nil {
					t.Fatalf("directed sends: a peer also got %q", m.Body)
				}
			}
		}},
	}
}

// conn returns s itself, or a new context on s (closed at cleanup).
func conn(t *testing.T, s *sockets.Socket, onCtx bool) sockets.AsyncConn {
	t.Helper()
	if !onCtx {
		return s
	}
	c, err := s.Context()
	if err != nil {
		t.Fatalf("%s Context: %v", s.Protocol(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func where(onCtx bool) string {
	if onCtx {
		return "context"
	}
	return "socket"
}

// stateCase is one protocol-state rule: op on a socket of proto (or a
// context on it), connected to a peer, after prep, fails with want.
type stateCase struct {
	name  string
	proto sockets.Protocol
	ctxs  bool // run on a context too
	// prep brings c into the state under test; peer is the connected
	// socket of proto.Peer().
	prep func(t *testing.T, ctx context.Context, c sockets.Conn, peer *sockets.Socket)
	op   string // "send" or "recv", non-blocking
	want *nanoact.Error
}

// stateCases: NNG's ESTATE for a reply without a request, a receive with
// no request or survey outstanding; ENOTSUP for the direction a protocol
// lacks and for contexts on protocols without them.
func stateCases() []ConfCase {
	askAndAnswer := func(t *testing.T, ctx context.Context, c sockets.Conn, peer *sockets.Socket) {
		MustSend(t, ctx, peer, []byte("q"))
		WantBody(t, ctx, c, []byte("q"))
		MustSend(t, ctx, c, []byte("a"))
		WantBody(t, ctx, peer, []byte("a"))
	}
	table := []stateCase{
		{"send-before-recv", sockets.Rep, true, nil, "send", nanoact.ErrState},
		{"send-twice", sockets.Rep, true, askAndAnswer, "send", nanoact.ErrState},
		{"recv-before-send", sockets.Req, true, nil, "recv", nanoact.ErrState},
		{"recv-after-reply", sockets.Req, true, func(t *testing.T, ctx context.Context, c sockets.Conn, peer *sockets.Socket) {
			MustSend(t, ctx, c, []byte("q"))
			WantBody(t, ctx, peer, []byte("q"))
			MustSend(t, ctx, peer, []byte("a"))
			WantBody(t, ctx, c, []byte("a"))
		}, "recv", nanoact.ErrState},
		{"recv-without-survey", sockets.Surveyor, true, nil, "recv", nanoact.ErrState},
		{"recv-after-survey-expired", sockets.Surveyor, true, func(t *testing.T, ctx context.Context, c sockets.Conn, peer *sockets.Socket) {
			// The receive waits from before the survey ends (250 ms
			// leaves room for a loaded machine) and ends with it.
			setSurveyTime(t, c, 250*time.Millisecond)
			MustSend(t, ctx, c, []byte("survey"))
			wantPendingErr(t, "receive pending at the survey's end", pendingRecv(c.(sockets.AsyncConn)), nanoact.ErrTimedOut)
		}, "recv", nanoact.ErrState},
		{"send-before-recv", sockets.Respondent, true, nil, "send", nanoact.ErrState},
		{"send-twice", sockets.Respondent, true, askAndAnswer, "send", nanoact.ErrState},
		{"recv", sockets.Pub, false, nil, "recv", nanoact.ErrNotSupported},
		{"send", sockets.Sub, true, nil, "send", nanoact.ErrNotSupported},
		{"recv", sockets.Push, false, nil, "recv", nanoact.ErrNotSupported},
		{"send", sockets.Pull, false, nil, "send", nanoact.ErrNotSupported},
	}
	var cs []ConfCase
	for _, sc := range table {
		for _, onCtx := range []bool{false, true} {
			if onCtx && !sc.ctxs {
				continue
			}
			cs = append(cs, ConfCase{
				Name: fmt.Sprintf("%s/state/%s-%s", sc.proto, sc.name, where(onCtx)),
				Run: func(t *testing.T, k *Link) {
					s, peer := k.Pair(sc.proto, sc.proto.Peer())
					c := conn(t, s, onCtx)
					ctx := CtxT(t)
					if sc.prep != nil {
						sc.prep(t, ctx, c, peer)
					}
					var err error
					if sc.op == "send" {
						err = c.Send(sockets.NonBlock(ctx), []byte("x"), sockets.Raw)
					} else {
						var m *sockets.Msg
						if m, err = c.RecvMsg(sockets.NonBlock(ctx)); err == nil {
							t.Fatalf("%s on %s received %q, want %v", sc.op, where(onCtx), m.Body, sc.want)
						}
					}
					WantCode(t, fmt.Sprintf("%s %s on %s", sc.proto, sc.op, where(onCtx)), err, sc.want)
				},
			})
		}
	}
	// Contexts exist on req, rep, sub, surveyor and respondent only, and
	// never on raw sockets.
	for _, p := range []sockets.Protocol{sockets.Push, sockets.Pull, sockets.Pub, sockets.Pair, sockets.Poly, sockets.Bus} {
		cs = append(cs, ConfCase{Name: p.String() + "/state/no-context", Run: func(t *testing.T, k *Link) {
			_, err := k.Open(p).Context()
			WantCode(t, p.String()+" Context", err, nanoact.ErrNotSupported)
		}})
	}
	for _, p := range []sockets.Protocol{sockets.Req, sockets.Rep, sockets.Surveyor, sockets.Respondent} {
		cs = append(cs, ConfCase{Name: p.String() + "/state/no-context-raw", Run: func(t *testing.T, k *Link) {
			_, err := k.Open(p, sockets.WithRaw()).Context()
			WantCode(t, "raw "+p.String()+" Context", err, nanoact.ErrNotSupported)
		}})
	}
	return cs
}

// stat reads statistic name of s.
func stat(t *testing.T, s *sockets.Socket, name string) int64 {
	t.Helper()
	v, err := s.Stat(name)
	if err != nil {
		t.Fatalf("%s Stat(%q): %v", s.Protocol(), name, err)
	}
	return v
}

func setSurveyTime(t *testing.T, c sockets.Conn, d time.Duration) {
	t.Helper()
	var err error
	switch c := c.(type) {
	case *sockets.Socket:
		err = c.SetSurveyTime(d)
	case *sockets.Context:
		err = c.SetSurveyTime(d)
	}
	if err != nil {
		t.Fatalf("SetSurveyTime: %v", err)
	}
}

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

// recvResult is the outcome of an asynchronous receive.
type recvResult struct {
	m   *sockets.Msg
	err error
}

// chanReceiver passes an asynchronous receive's outcome to a channel of
// capacity one.
type chanReceiver chan recvResult

func (c chanReceiver) Received(m *sockets.Msg, err error) { c <- recvResult{m, err} }

// pendingRecv starts a receive on c that waits in the protocol's queue
// and returns the channel its outcome comes on.
func pendingRecv(c sockets.AsyncConn) chanReceiver {
	ch := make(chanReceiver, 1)
	var op sockets.RecvOp
	c.RecvAsync(&op, ch)
	return ch
}

// wantPendingErr waits for a pending receive's outcome and fails the test
// unless it is want.
func wantPendingErr(t *testing.T, what string, ch chanReceiver, want *nanoact.Error) {
	t.Helper()
	select {
	case r := <-ch:
		if r.err == nil {
			t.Fatalf("%s: received %q, want %v", what, r.m.Body, want)
		}
		WantCode(t, what, r.err, want)
	case <-time.After(confLimit):
		t.Fatalf("%s: still pending after %v, want %v", what, confLimit, want)
	}
}

// receivers are the protocols that receive, each with what brings a
// socket or context of it to a receive that waits.
var receivers = []struct {
	proto sockets.Protocol
	ctxs  bool
	prep  func(t *testing.T, ctx context.Context, c sockets.Conn)
}{
	{sockets.Pull, false, nil},
	{sockets.Sub, true, nil},
	{sockets.Rep, true, nil},
	{sockets.Req, true, func(t *testing.T, ctx context.Context, c sockets.Conn) { MustSend(t, ctx, c, []byte("q")) }},
	{sockets.Surveyor, true, func(t *testing.T, ctx context.Context, c sockets.Conn) {
		setSurveyTime(t, c, time.Minute)
		MustSend(t, ctx, c, []byte("survey"))
	}},
	{sockets.Respondent, true, nil},
	{sockets.Pair, false, nil},
	{sockets.Poly, false, nil},
	{sockets.Bus, false, nil},
}

// closeCases: NNG's close semantics. A receive waiting when its socket
// or context closes ends with ErrClosed; every operation on a closed
// socket or context fails with ErrClosed, a second Close included.
func closeCases() []ConfCase {
	var cs []ConfCase
	for _, r := range receivers {
		p := r.proto
		cs = append(cs, ConfCase{Name: p.String() + "/close/pending-recv-socket-close", Run: func(t *testing.T, k *Link) {
			s, _ := k.Pair(p, p.Peer())
			if r.prep != nil {
				r.prep(t, CtxT(t), s)
			}
			ch := pendingRecv(s)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			wantPendingErr(t, p.String()+" receive pending at socket Close", ch, nanoact.ErrClosed)
		}})
		cs = append(cs, ConfCase{Name: p.String() + "/close/blocking-recv-socket-close", Run: func(t *testing.T, k *Link) {
			s, _ := k.Pair(p, p.Peer())
			if r.prep != nil {
				r.prep(t, CtxT(t), s)
			}
			done := make(chan error, 1)
			go func() {
				_, err := s.Recv(CtxT(t))
				done <- err
			}()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, p.String()+" blocking receive at socket Close", <-done, nanoact.ErrClosed)
		}})
		if !r.ctxs {
			continue
		}
		cs = append(cs, ConfCase{Name: p.String() + "/close/blocking-recv-context-close", Run: func(t *testing.T, k *Link) {
			s, _ := k.Pair(p, p.Peer())
			c, err := s.Context()
			if err != nil {
				t.Fatal(err)
			}
			if r.prep != nil {
				r.prep(t, CtxT(t), c)
			}
			done := make(chan error, 1)
			go func() {
				_, err := c.Recv(CtxT(t))
				done <- err
			}()
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, p.String()+" blocking context receive at context Close", <-done, nanoact.ErrClosed)
		}})
		cs = append(cs, ConfCase{Name: p.String() + "/close/aio-recv-context-close", Run: func(t *testing.T, k *Link) {
			s, _ := k.Pair(p, p.Peer())
			c, err := s.Context()
			if err != nil {
				t.Fatal(err)
			}
			if r.prep != nil {
				r.prep(t, CtxT(t), c)
			}
			a := aio.Recv[[]byte](c, aio.Mode(sockets.Raw), aio.Timeout(-1))
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			_, err = a.Value(CtxT(t))
			WantCode(t, p.String()+" aio receive on a context at its Close", err, nanoact.ErrClosed)
		}})
		for _, closeSocket := range []bool{false, true} {
			name := p.String() + "/close/pending-recv-context-close"
			if closeSocket {
				name = p.String() + "/close/pending-context-recv-socket-close"
			}
			cs = append(cs, ConfCase{Name: name, Run: func(t *testing.T, k *Link) {
				s, _ := k.Pair(p, p.Peer())
				c, err := s.Context()
				if err != nil {
					t.Fatal(err)
				}
				if r.prep != nil {
					r.prep(t, CtxT(t), c)
				}
				ch := pendingRecv(c)
				if closeSocket {
					err = s.Close()
				} else {
					err = c.Close()
				}
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
				wantPendingErr(t, name, ch, nanoact.ErrClosed)
			}})
		}
	}
	all := []sockets.Protocol{sockets.Req, sockets.Rep, sockets.Push, sockets.Pull, sockets.Pub, sockets.Sub,
		sockets.Surveyor, sockets.Respondent, sockets.Pair, sockets.Poly, sockets.Bus}
	for _, p := range all {
		cs = append(cs, ConfCase{Name: p.String() + "/close/after-close", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			s, _ := k.Pair(p, p.Peer())
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, "second Close", s.Close(), nanoact.ErrClosed)
			WantCode(t, "Send after Close", s.Send(ctx, []byte("x"), sockets.Raw), nanoact.ErrClosed)
			WantCode(t, "non-blocking Send after Close", s.Send(sockets.NonBlock(ctx), []byte("x"), sockets.Raw), nanoact.ErrClosed)
			_, err := s.Recv(ctx)
			WantCode(t, "Recv after Close", err, nanoact.ErrClosed)
			_, err = s.Context()
			WantCode(t, "Context after Close", err, nanoact.ErrClosed)
			_, err = s.Dial("inproc://conf-after-close")
			WantCode(t, "Dial after Close", err, nanoact.ErrClosed)
			_, err = s.Listen("inproc://conf-after-close")
			WantCode(t, "Listen after Close", err, nanoact.ErrClosed)
			WantCode(t, "Set after Close", sockets.Set(s, sockets.RecvTimeout, time.Second), nanoact.ErrClosed)
			_, err = sockets.Get(s, sockets.RecvTimeout)
			WantCode(t, "Get after Close", err, nanoact.ErrClosed)
			select {
			case <-s.Done():
			default:
				t.Fatal("Done not closed after Close")
			}
		}})
	}
	for _, r := range receivers {
		if !r.ctxs {
			continue
		}
		p := r.proto
		cs = append(cs, ConfCase{Name: p.String() + "/close/context-after-close", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			s, _ := k.Pair(p, p.Peer())
			c, err := s.Context()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, "second context Close", c.Close(), nanoact.ErrClosed)
			_, err = c.Recv(ctx)
			WantCode(t, "context Recv after Close", err, nanoact.ErrClosed)
			if p != sockets.Sub {
				WantCode(t, "context Send after Close", c.Send(ctx, []byte("x"), sockets.Raw), nanoact.ErrClosed)
			}
		}})
	}
	for _, p := range []sockets.Protocol{sockets.Push, sockets.Pair, sockets.Poly, sockets.Req} {
		cs = append(cs, ConfCase{Name: p.String() + "/close/blocking-send-socket-close", Run: func(t *testing.T, k *Link) {
			// No peer: the send waits until the socket closes (a
			// req's too: NNG completes it once a pipe takes it).
			s := k.Open(p)
			k.Listen(s)
			done := make(chan error, 1)
			go func() { done <- s.Send(CtxT(t), []byte("x"), sockets.Raw) }()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, p.String()+" blocking operation at socket Close", <-done, nanoact.ErrClosed)
		}})
	}
	return cs
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

// rawCases: raw sockets keep no protocol state and expose the headers:
// a raw req's request id comes back on its reply, a raw rep or respondent
// answers with the header it received, a raw sub takes every message.
func rawCases() []ConfCase {
	return []ConfCase{
		{Name: "req-rep/raw/raw-req", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			req, rep := k.Open(sockets.Req, sockets.WithRaw()), k.Open(sockets.Rep)
			k.Connect(req, rep)
			m := sockets.NewMsg([]byte("raw q"))
			m.Header = binary.BigEndian.AppendUint32(m.Header, 0x80000123)
			if err := req.SendMsg(ctx, m); err != nil {
				t.Fatal(err)
			}
			WantBody(t, ctx, rep, []byte("raw q"))
			MustSend(t, ctx, rep, []byte("raw a"))
			r, err := req.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Body) != "raw a" || binary.BigEndian.Uint32(r.Header) != 0x80000123 || len(r.Header) != 4 {
				t.Fatalf("raw req got %q with header % x, want \"raw a\" with 80 00 01 23", r.Body, r.Header)
			}
			_, err = req.Recv(sockets.NonBlock(ctx))
			WantCode(t, "raw req receive with nothing waiting", err, nanoact.ErrTryAgain)
		}},
		{Name: "req-rep/raw/raw-rep", Run: func(t *testing.T, k *Link) { rawAnswer(t, k, sockets.Req, sockets.Rep) }},
		{Name: "surveyor-respondent/raw/raw-respondent", Run: func(t *testing.T, k *Link) {
			rawAnswer(t, k, sockets.Surveyor, sockets.Respondent)
		}},
		{Name: "surveyor-respondent/raw/raw-surveyor-recv", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			sv := k.Open(sockets.Surveyor, sockets.WithRaw())
			_, err := sv.Recv(sockets.NonBlock(ctx))
			WantCode(t, "raw surveyor receive with no survey", err, nanoact.ErrTryAgain)
		}},
		{Name: "pub-sub/raw/raw-sub-takes-all", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			sub, pub := k.Open(sockets.Sub, sockets.WithRaw()), k.Open(sockets.Pub)
			k.Connect(sub, pub)
			for i := range 3 {
				MustSend(t, ctx, pub, seqMsg(i))
			}
			for i := range 3 {
				WantBody(t, ctx, sub, seqMsg(i))
			}
		}},
	}
}

// rawAnswer checks a raw replier (rep or respondent) against a cooked
// asker: it receives the question with a header and answers by sending
// that header back.
func rawAnswer(t *testing.T, k *Link, asker, replier sockets.Protocol) {
	ctx := CtxT(t)
	a, r := k.Open(asker), k.Open(replier, sockets.WithRaw())
	k.Connect(a, r)
	MustSend(t, ctx, a, []byte("question\x00"))
	q, err := r.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(q.Body) != "question\x00" || len(q.Header) < 4 {
		t.Fatalf("raw %s got %q with header % x: want the question and a header", replier, q.Body, q.Header)
	}
	ans := sockets.NewMsg([]byte("answer\xff"))
	ans.Header = append(ans.Header, q.Header...)
	if err := r.SendMsg(ctx, ans); err != nil {
		t.Fatal(err)
	}
	WantBody(t, ctx, a, []byte("answer\xff"))
	// Without a request to answer, a raw replier keeps no state: a
	// headerless message is dropped, as NNG drops it, not refused.
	if err := r.Send(sockets.NonBlock(ctx), []byte("stray"), sockets.Raw); err != nil {
		t.Fatalf("raw %s send without a header: %v (NNG drops it and succeeds)", replier, err)
	}
}
