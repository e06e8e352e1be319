package sockets_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
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

// TestFirstSendOncePipesCounted: the listening side too can send at once,
// without blocking, as soon as Pipes() counts the connection.
func TestFirstSendOncePipesCounted(t *testing.T) {
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
					s, err := sockets.New(pp.send, sockets.Listen(transports(t)[tr]))
					if err != nil {
						t.Fatal(err)
					}
					peer := open(t, pp.peer)
					if _, err := peer.Dial(s.Listeners()[0].URL(), sockets.Sync); err != nil {
						t.Fatal(err)
					}
					eventually(t, func() bool { return s.Pipes() > 0 })
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

// TestReqFailoverToLaterPeer: a request whose connection closes is sent
// again as soon as a new peer connects, not when the resend timer (1 min)
// fires (issue 14, item 2).
func TestReqFailoverToLaterPeer(t *testing.T) {
	for _, tr := range []string{"inproc", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			rep1 := open(t, sockets.Rep)
			l, err := rep1.Listen(transports(t)[tr])
			if err != nil {
				t.Fatal(err)
			}
			url := l.URL()
			req := open(t, sockets.Req)
			if err := sockets.Set(req, sockets.ReconnectTimeMin, 5*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if _, err := req.Dial(url, sockets.Sync); err != nil {
				t.Fatal(err)
			}
			if err := req.Send(ctx, "job", sockets.Raw); err != nil {
				t.Fatal(err)
			}
			if got, err := sockets.RecvAs[string](ctx, rep1, sockets.Raw); err != nil || got != "job" {
				t.Fatalf("rep1 got %q %v", got, err)
			}
			_ = rep1.Close() // the server restarts
			eventually(t, func() bool { return req.Pipes() == 0 })
			rep2 := open(t, sockets.Rep)
			if _, err := rep2.Listen(url); err != nil {
				t.Fatal(err)
			}
			if got, err := sockets.RecvAs[string](ctx, rep2, sockets.Raw); err != nil || got != "job" {
				t.Fatalf("rep2 got %q %v (the request was not sent again)", got, err)
			}
			if err := rep2.Send(ctx, "done", sockets.Raw); err != nil {
				t.Fatal(err)
			}
			if got, err := sockets.RecvAs[string](ctx, req, sockets.Raw); err != nil || got != "done" {
				t.Fatalf("req got %q %v", got, err)
			}
			if n := stat(t, req, "req_resent"); n != 1 {
				t.Fatalf("req_resent = %d, want 1", n)
			}
		})
	}
}

// TestPubDropsOldest: a burst larger than a subscriber's queue keeps the
// newest messages, as NNG's pub does, and every message dropped is
// counted (issue 14, item 3).
func TestPubDropsOldest(t *testing.T) {
	t.Parallel()
	const n = 2000
	ctx := ctxT(t)
	pub, sub := open(t, sockets.Pub), open(t, sockets.Sub)
	if err := sockets.Set(sub, sockets.RecvBuffer, 8192); err != nil {
		t.Fatal(err)
	}
	if err := sub.Subscribe(""); err != nil {
		t.Fatal(err)
	}
	connect(t, pub, sub, transports(t)["inproc"])
	for i := range n {
		if err := pub.Send(ctx, int32(i), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return stat(t, pub, "drop_pub_full")+stat(t, sub, "rx_msgs") == n })
	var got []int32
	for {
		v, err := sockets.RecvAs[[]int32](sockets.NonBlock(ctx), sub, sockets.Raw)
		if err != nil {
			wantCode(t, err, nanoact.ErrTryAgain)
			break
		}
		got = append(got, v...)
	}
	if int64(len(got)) != stat(t, sub, "rx_msgs") {
		t.Fatalf("received %d, rx_msgs %d", len(got), stat(t, sub, "rx_msgs"))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order at %d: %v", i, got)
		}
	}
	if len(got) == 0 || got[len(got)-1] != n-1 {
		t.Fatalf("the newest message was dropped: got %d messages, last %v (drops %d)", len(got), got[len(got)-1:], stat(t, pub, "drop_pub_full"))
	}
	if stat(t, sub, "drop_recv_full") != 0 {
		t.Fatal("sub dropped")
	}
}

// TestDropCounters: stale replies and late survey answers are counted.
func TestDropCounters(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	t.Run("stale reply", func(t *testing.T) {
		req, rep := open(t, sockets.Req), open(t, sockets.Rep)
		connect(t, rep, req, transports(t)["inproc"])
		if err := req.Send(ctx, "one", sockets.Raw); err != nil {
			t.Fatal(err)
		}
		if _, err := rep.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		if err := req.Send(ctx, "two", sockets.Raw); err != nil { // abandons "one"
			t.Fatal(err)
		}
		if err := rep.Send(ctx, "re: one", sockets.Raw); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return stat(t, req, "drop_stale_reply") == 1 })
	})
	t.Run("late answer", func(t *testing.T) {
		surv, resp := open(t, sockets.Surveyor), open(t, sockets.Respondent)
		connect(t, surv, resp, transports(t)["inproc"])
		if err := surv.Send(ctx, "s1", sockets.Raw); err != nil {
			t.Fatal(err)
		}
		if _, err := resp.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		if err := surv.Send(ctx, "s2", sockets.Raw); err != nil { // ends s1
			t.Fatal(err)
		}
		if err := resp.Send(ctx, "a1", sockets.Raw); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return stat(t, surv, "drop_late_answer") == 1 })
	})
}

// TestContextCloseEndsRecvClosed: closing a context ends the receives
// waiting on it with ErrClosed, blocking or asynchronous, on every
// protocol with contexts; closing the socket does the same (issue 14,
// item 5).
func TestContextCloseEndsRecvClosed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		self, peer sockets.Protocol
		prime      func(t *testing.T, c *sockets.Context) // puts the context in a state to receive
	}{
		{"req", sockets.Req, sockets.Rep, func(t *testing.T, c *sockets.Context) {
			if err := c.Send(ctxT(t), "q", sockets.Raw); err != nil {
				t.Fatal(err)
			}
		}},
		{"surveyor", sockets.Surveyor, sockets.Respondent, func(t *testing.T, c *sockets.Context) {
			if err := sockets.Set(c, sockets.SurveyTime, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := c.Send(ctxT(t), "s", sockets.Raw); err != nil {
				t.Fatal(err)
			}
		}},
		{"rep", sockets.Rep, sockets.Req, func(*testing.T, *sockets.Context) {}},
		{"respondent", sockets.Respondent, sockets.Surveyor, func(*testing.T, *sockets.Context) {}},
		{"sub", sockets.Sub, sockets.Pub, func(*testing.T, *sockets.Context) {}},
	}
	for _, tc := range cases {
		for _, how := range []string{"context", "socket"} {
			t.Run(tc.name+"/close "+how, func(t *testing.T) {
				for range 20 { // the two wake-ups of a close raced; try often
					s, peer := open(t, tc.self), open(t, tc.peer)
					connect(t, s, peer, transports(t)["inproc"])
					c, err := s.Context()
					if err != nil {
						t.Fatal(err)
					}
					tc.prime(t, c)
					var op sockets.RecvOp
					col := newCollector()
					c.RecvAsync(&op, col)
					errc := make(chan error, 1)
					started := make(chan struct{})
					go func() {
						close(started)
						_, err := c.Recv(context.Background())
						errc <- err
					}()
					<-started
					col.pending(t)
					if how == "context" {
						if err := c.Close(); err != nil {
							t.Fatal(err)
						}
					} else if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					wantCode(t, col.wait(t).err, nanoact.ErrClosed)
					select {
					case err := <-errc:
						wantCode(t, err, nanoact.ErrClosed)
					case <-time.After(5 * time.Second):
						t.Fatal("blocking receive not ended")
					}
					_ = s.Close()
					_ = peer.Close()
				}
			})
		}
	}
}

// TestBuffersSettableAnyTime: recv-buffer and send-buffer can be set once
// the socket has endpoints and connections, as in NNG; a resize keeps the
// messages queued, a shrink drops the oldest received ones as NNG does,
// and an operation waiting on the old queue carries on on the new one
// (issue 14, item 4).
func TestBuffersSettableAnyTime(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	url := transports(t)["inproc"]
	pull, err := sockets.New(sockets.Pull, sockets.Listen(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pull.Close() })
	for _, o := range []sockets.Opt[int]{sockets.RecvBuffer} {
		if err := sockets.Set(pull, o, 64); err != nil {
			t.Fatalf("set on New(p, Listen(url)): %v", err)
		}
	}
	push, err := sockets.New(sockets.Push, sockets.Dial(url, sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = push.Close() })
	if err := sockets.Set(push, sockets.SendBuffer, 8); err != nil {
		t.Fatalf("set on New(p, Dial(url)): %v", err)
	}
	recvAll := func(n int) []int32 {
		t.Helper()
		var got []int32
		for range n {
			v, err := sockets.RecvAs[int32](ctx, pull, sockets.Raw)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		if _, err := pull.Recv(sockets.NonBlock(ctx)); err == nil {
			t.Fatal("more messages than expected")
		}
		return got
	}
	sendN := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			if err := push.Send(ctx, int32(i), sockets.Raw); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Grow and shrink with room to spare: nothing is lost.
	sendN(0, 10)
	eventually(t, func() bool { return stat(t, pull, "rx_msgs") == 10 })
	for _, n := range []int{128, 10} {
		if err := sockets.Set(pull, sockets.RecvBuffer, n); err != nil {
			t.Fatal(err)
		}
	}
	if got := recvAll(10); fmt.Sprint(got) != "[0 1 2 3 4 5 6 7 8 9]" {
		t.Fatalf("after resizes got %v", got)
	}

	// Shrink below what is queued: the oldest are dropped, and counted.
	sendN(10, 10)
	eventually(t, func() bool { return stat(t, pull, "rx_msgs") == 20 })
	if err := sockets.Set(pull, sockets.RecvBuffer, 4); err != nil {
		t.Fatal(err)
	}
	if got := recvAll(4); fmt.Sprint(got) != "[16 17 18 19]" {
		t.Fatalf("after shrinking got %v", got)
	}
	if n := stat(t, pull, "drop_recv_full"); n != 6 {
		t.Fatalf("drop_recv_full = %d, want 6", n)
	}

	// A full queue holds the peer back; growing it lets the rest in.
	if err := sockets.Set(pull, sockets.RecvBuffer, 1); err != nil {
		t.Fatal(err)
	}
	sendN(20, 6)
	eventually(t, func() bool { return stat(t, pull, "rx_msgs") == 21 }) // one queued, the next waiting for room
	if err := sockets.Set(pull, sockets.RecvBuffer, 16); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return stat(t, pull, "rx_msgs") == 26 })
	if got := recvAll(6); fmt.Sprint(got) != "[20 21 22 23 24 25]" {
		t.Fatalf("after growing a full queue got %v", got)
	}
}

// TestSendBufferResizeKeepsMessages: a send queue resized with messages in
// it, smaller or larger, loses none and keeps their order, and a send
// waiting for room carries on on the new queue.
func TestSendBufferResizeKeepsMessages(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	push := open(t, sockets.Push)
	if err := sockets.Set(push, sockets.SendBuffer, 4); err != nil {
		t.Fatal(err)
	}
	nb := sockets.NonBlock(ctx)
	for i := range 4 {
		if err := push.Send(nb, int32(i), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, push.Send(nb, int32(99), sockets.Raw), nanoact.ErrTryAgain)
	done := make(chan error, 1)
	go func() { done <- push.Send(ctx, int32(4), sockets.Raw) }()    // waits for room
	if err := sockets.Set(push, sockets.SendBuffer, 1); err != nil { // three spill to the backlog
		t.Fatal(err)
	}
	if err := sockets.Set(push, sockets.SendBuffer, 8); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting send did not move to the larger queue")
	}
	pull := open(t, sockets.Pull)
	connect(t, push, pull, transports(t)["inproc"])
	var got []int32
	for range 5 {
		v, err := sockets.RecvAs[int32](ctx, pull, sockets.Raw)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[0 1 2 3 4]" {
		t.Fatalf("got %v", got)
	}
}
