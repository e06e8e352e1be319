package sockets_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// result is one outcome given to a Receiver.
type result struct {
	m   *sockets.Msg
	err error
}

// collector is a Receiver that queues its outcomes; each RecvOp needs its
// own, so that a second call is seen as a failure.
type collector struct {
	ch    chan result
	calls atomic.Int32
}

func newCollector() *collector { return &collector{ch: make(chan result, 2)} }

func (c *collector) Received(m *sockets.Msg, err error) {
	c.calls.Add(1)
	c.ch <- result{m, err}
}

// wait returns the outcome, failing the test after 5 s.
func (c *collector) wait(t *testing.T) result {
	t.Helper()
	select {
	case r := <-c.ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("receive not completed within 5s")
		return result{}
	}
}

// pending fails the test if the receive has completed.
func (c *collector) pending(t *testing.T) {
	t.Helper()
	if n := c.calls.Load(); n != 0 {
		t.Fatalf("completed %d times, want pending", n)
	}
}

func (c *collector) body(t *testing.T) string {
	t.Helper()
	r := c.wait(t)
	if r.err != nil {
		t.Fatalf("receive: %v", r.err)
	}
	defer r.m.Free()
	return string(r.m.Body)
}

func inprocURL(name string) string { return fmt.Sprintf("inproc://async-%s-%d", name, seq.Add(1)) }

// A message already waiting completes the receive before RecvAsync
// returns; otherwise the receive waits, with no goroutine, for the next.
func TestRecvAsyncPull(t *testing.T) {
	t.Parallel()
	push, pull := open(t, sockets.Push), open(t, sockets.Pull)
	connect(t, pull, push, inprocURL("pull"))
	ctx := ctxT(t)
	if err := push.Send(ctx, []byte("first"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	ready, err := pull.RecvReady()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("message not delivered")
	}

	var op sockets.RecvOp
	c := newCollector()
	pull.RecvAsync(&op, c)
	if c.calls.Load() != 1 {
		t.Fatal("a waiting message did not complete the receive at once")
	}
	if got := c.body(t); got != "first" {
		t.Fatalf("got %q", got)
	}

	var op2 sockets.RecvOp
	c2 := newCollector()
	pull.RecvAsync(&op2, c2)
	c2.pending(t)
	if err := push.Send(ctx, []byte("second"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	r := c2.wait(t)
	if r.err != nil || string(r.m.Body) != "second" || r.m.Pipe == 0 {
		t.Fatalf("got %+v", r)
	}
	r.m.Free()
	if op2.Cancel() {
		t.Fatal("Cancel after completion reported true")
	}
}

// Receives waiting on one socket get messages in the order they started.
func TestRecvAsyncOrder(t *testing.T) {
	t.Parallel()
	push, pull := open(t, sockets.Push), open(t, sockets.Pull)
	connect(t, pull, push, inprocURL("order"))
	const n = 100
	ops := make([]sockets.RecvOp, n)
	cs := make([]*collector, n)
	for i := range ops {
		cs[i] = newCollector()
		pull.RecvAsync(&ops[i], cs[i])
	}
	ctx := ctxT(t)
	for i := range n {
		if err := push.Send(ctx, []byte(fmt.Sprint(i)), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cs {
		if got := c.body(t); got != fmt.Sprint(i) {
			t.Fatalf("receive %d got %q", i, got)
		}
	}
}

// A cancelled receive is never completed and takes no message.
func TestRecvAsyncCancel(t *testing.T) {
	t.Parallel()
	push, pull := open(t, sockets.Push), open(t, sockets.Pull)
	connect(t, pull, push, inprocURL("cancel"))
	var op1, op2 sockets.RecvOp
	c1, c2 := newCollector(), newCollector()
	pull.RecvAsync(&op1, c1)
	pull.RecvAsync(&op2, c2)
	if !op1.Cancel() {
		t.Fatal("Cancel of a waiting receive reported false")
	}
	if op1.Cancel() {
		t.Fatal("second Cancel reported true")
	}
	ctx := ctxT(t)
	for _, b := range []string{"a", "b"} {
		if err := push.Send(ctx, []byte(b), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if got := c2.body(t); got != "a" {
		t.Fatalf("got %q", got)
	}
	m, err := pull.Recv(ctx)
	if err != nil || string(m.Body) != "b" {
		t.Fatalf("the next message went astray: %v", err)
	}
	m.Free()
	c1.pending(t)
	var zero sockets.RecvOp
	if zero.Cancel() {
		t.Fatal("Cancel of an op never started reported true")
	}
}

// Receives fail at once where a blocking receive would: a protocol that
// cannot receive, a req with no request, a surveyor with no survey, a
// closed socket.
func TestRecvAsyncFailsAtOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p    sockets.Protocol
		want *nanoact.Error
	}{
		{sockets.Push, nanoact.ErrNotSupported},
		{sockets.Pub, nanoact.ErrNotSupported},
		{sockets.Req, nanoact.ErrState},
		{sockets.Surveyor, nanoact.ErrState},
	}
	for _, tc := range cases {
		s := open(t, tc.p)
		var op sockets.RecvOp
		c := newCollector()
		s.RecvAsync(&op, c)
		if c.calls.Load() != 1 {
			t.Fatalf("%s: not completed at once", tc.p)
		}
		wantCode(t, c.wait(t).err, tc.want)
	}
	s := open(t, sockets.Pull)
	_ = s.Close()
	var op sockets.RecvOp
	c := newCollector()
	s.RecvAsync(&op, c)
	wantCode(t, c.wait(t).err, nanoact.ErrClosed)
}

// Closing a socket fails every receive waiting on it, on its contexts
// too, with ErrClosed.
func TestRecvAsyncSocketClose(t *testing.T) {
	t.Parallel()
	for _, p := range []sockets.Protocol{sockets.Pull, sockets.Pair, sockets.Bus, sockets.Sub, sockets.Rep, sockets.Respondent, sockets.Req, sockets.Surveyor} {
		t.Run(p.String(), func(t *testing.T) {
			s, err := sockets.New(p)
			if err != nil {
				t.Fatal(err)
			}
			if p == sockets.Req {
				connect(t, open(t, sockets.Rep), s, inprocURL("close"))
			}
			ctx := ctxT(t)
			var cons []sockets.AsyncConn
			cons = append(cons, s)
			if p == sockets.Req || p == sockets.Surveyor {
				// A receive waits only for a request or survey.
				if err := s.Send(ctx, "q"); err != nil {
					t.Fatal(err)
				}
			}
			if p != sockets.Pull && p != sockets.Pair && p != sockets.Bus {
				c := mustContext(t, s)
				if p == sockets.Req || p == sockets.Surveyor {
					if err := c.Send(ctx, "q"); err != nil {
						t.Fatal(err)
					}
				}
				cons = append(cons, c)
			}
			ops := make([]sockets.RecvOp, len(cons))
			cs := make([]*collector, len(cons))
			for i, con := range cons {
				cs[i] = newCollector()
				con.RecvAsync(&ops[i], cs[i])
				cs[i].pending(t)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				wantCode(t, c.wait(t).err, nanoact.ErrClosed)
			}
		})
	}
}

// Closing a context fails its receives, not those of its siblings.
func TestRecvAsyncContextClose(t *testing.T) {
	t.Parallel()
	for _, p := range []sockets.Protocol{sockets.Rep, sockets.Sub, sockets.Req, sockets.Surveyor} {
		t.Run(p.String(), func(t *testing.T) {
			s := open(t, p)
			if p == sockets.Req {
				connect(t, open(t, sockets.Rep), s, inprocURL("ctxclose"))
			}
			ctx := ctxT(t)
			a, b := mustContext(t, s), mustContext(t, s)
			var opA, opB sockets.RecvOp
			ca, cb := newCollector(), newCollector()
			for _, c := range []*sockets.Context{a, b} {
				if p == sockets.Req || p == sockets.Surveyor {
					if err := c.Send(ctx, "q"); err != nil {
						t.Fatal(err)
					}
				}
			}
			a.RecvAsync(&opA, ca)
			b.RecvAsync(&opB, cb)
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			wantCode(t, ca.wait(t).err, nanoact.ErrClosed)
			cb.pending(t)
			if !opB.Cancel() {
				t.Fatal("the sibling's receive was not waiting")
			}
		})
	}
}

// req: the receive gets the reply; a new request cancels it; cancelling
// it abandons the request, so that a late reply is dropped.
func TestRecvAsyncReq(t *testing.T) {
	t.Parallel()
	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	connect(t, rep, req, inprocURL("req"))
	ctx := ctxT(t)

	if err := req.Send(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	var op sockets.RecvOp
	c := newCollector()
	req.RecvAsync(&op, c)
	if v, err := sockets.RecvAs[string](ctx, rep); err != nil || v != "one" {
		t.Fatalf("%q %v", v, err)
	}
	c.pending(t)
	if err := rep.Send(ctx, "re: one"); err != nil {
		t.Fatal(err)
	}
	r := c.wait(t)
	if v, err := sockets.Decode[string](r.m, sockets.Serial, req.Codec()); r.err != nil || err != nil || v != "re: one" {
		t.Fatalf("%q %v %v", v, r.err, err)
	}

	// A new request cancels the receive waiting for the old one.
	if err := req.Send(ctx, "two"); err != nil {
		t.Fatal(err)
	}
	var op2 sockets.RecvOp
	c2 := newCollector()
	req.RecvAsync(&op2, c2)
	if err := req.Send(ctx, "three"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c2.wait(t).err, nanoact.ErrCanceled)

	// Cancelling abandons "three": its reply is dropped.
	var op3 sockets.RecvOp
	c3 := newCollector()
	req.RecvAsync(&op3, c3)
	for range 2 { // "two", then "three"
		if _, err := rep.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !op3.Cancel() {
		t.Fatal("Cancel reported false")
	}
	if err := rep.Send(ctx, "re: three"); err != nil {
		t.Fatal(err)
	}
	_, err := req.Recv(sockets.NonBlock(ctx))
	wantCode(t, err, nanoact.ErrState)
	c3.pending(t)
}

// req with resending off: a receive waiting when the request's connection
// dies fails with ErrConnReset.
func TestRecvAsyncReqConnReset(t *testing.T) {
	t.Parallel()
	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	if err := sockets.Set(req, sockets.ResendTime, 0); err != nil {
		t.Fatal(err)
	}
	connect(t, rep, req, inprocURL("reset"))
	ctx := ctxT(t)
	if err := req.Send(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if _, err := rep.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	var op sockets.RecvOp
	c := newCollector()
	req.RecvAsync(&op, c)
	_ = rep.Close()
	wantCode(t, c.wait(t).err, nanoact.ErrConnReset)
}

// rep contexts: each receive takes one request, and the reply sent from
// the Receiver itself goes back to the requester that asked.
func TestRecvAsyncRepContexts(t *testing.T) {
	t.Parallel()
	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	connect(t, rep, req, inprocURL("repctx"))
	ctx := ctxT(t)
	const n = 8
	ops := make([]sockets.RecvOp, n)
	for i := range n {
		rc := mustContext(t, rep)
		ops[i] = sockets.RecvOp{}
		rc.RecvAsync(&ops[i], replyFrom{t, rc})
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			qc, err := req.Context()
			if err != nil {
				t.Error(err)
				return
			}
			defer qc.Close()
			q := fmt.Sprintf("q%d", i)
			if err := qc.Send(ctx, q); err != nil {
				t.Error(err)
				return
			}
			if v, err := sockets.RecvAs[string](ctx, qc); err != nil || v != "re: "+q {
				t.Errorf("requester %d got %q %v", i, v, err)
			}
		})
	}
	wg.Wait()
}

// replyFrom answers the request it receives on its context, from inside
// the Receiver.
type replyFrom struct {
	t *testing.T
	c *sockets.Context
}

func (r replyFrom) Received(m *sockets.Msg, err error) {
	if err != nil {
		r.t.Error(err)
		return
	}
	q, err := sockets.Decode[string](m, sockets.Serial, r.c.Codec())
	if err != nil {
		r.t.Error(err)
		return
	}
	if err := r.c.Send(context.Background(), "re: "+q); err != nil {
		r.t.Error(err)
	}
}

// surveyor: a receive gets an answer; it ends ErrTimedOut when the survey
// time runs out, ErrCanceled when a new survey replaces it.
func TestRecvAsyncSurveyor(t *testing.T) {
	t.Parallel()
	sur, resp := open(t, sockets.Surveyor), open(t, sockets.Respondent)
	connect(t, sur, resp, inprocURL("survey"))
	ctx := ctxT(t)
	if err := sur.Send(ctx, "ping"); err != nil {
		t.Fatal(err)
	}
	var op sockets.RecvOp
	c := newCollector()
	sur.RecvAsync(&op, c)
	if _, err := resp.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	if err := resp.Send(ctx, "pong"); err != nil {
		t.Fatal(err)
	}
	if r := c.wait(t); r.err != nil {
		t.Fatal(r.err)
	}

	var op2 sockets.RecvOp
	c2 := newCollector()
	sur.RecvAsync(&op2, c2)
	if err := sur.Send(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c2.wait(t).err, nanoact.ErrCanceled)

	if err := sur.SetSurveyTime(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := sur.Send(ctx, "short"); err != nil {
		t.Fatal(err)
	}
	var op3 sockets.RecvOp
	c3 := newCollector()
	sur.RecvAsync(&op3, c3)
	wantCode(t, c3.wait(t).err, nanoact.ErrTimedOut)
}

// sub: a context's receive gets only messages matching its topics.
func TestRecvAsyncSub(t *testing.T) {
	t.Parallel()
	pub, sub := open(t, sockets.Pub), open(t, sockets.Sub)
	connect(t, sub, pub, inprocURL("sub"))
	sc := mustContext(t, sub)
	if err := sc.Subscribe("news"); err != nil {
		t.Fatal(err)
	}
	var op sockets.RecvOp
	c := newCollector()
	sc.RecvAsync(&op, c)
	ctx := ctxT(t)
	for _, b := range []string{"sport: 1-0", "news: hello"} {
		if err := pub.Send(ctx, b, sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.body(t); got != "news: hello\x00" {
		t.Fatalf("got %q", got)
	}
}

// Receives started and cancelled from many goroutines while messages
// arrive: every message is received exactly once, by a receive that was
// not cancelled or, after all, by a plain Recv.
func TestRecvAsyncCancelRace(t *testing.T) {
	t.Parallel()
	push, pull := open(t, sockets.Push), open(t, sockets.Pull)
	const n = 2000
	// Room for every message a cancelled receive leaves in the queue.
	if err := sockets.Set(pull, sockets.RecvBuffer, n); err != nil {
		t.Fatal(err)
	}
	connect(t, pull, push, inprocURL("race"))
	ctx := ctxT(t)
	var got, cancelled atomic.Int64
	seen := make([]atomic.Int32, n)
	rcv := countReceiver{got: &got, seen: seen}
	ops := make([]sockets.RecvOp, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				pull.RecvAsync(&ops[i], rcv)
				if rand.IntN(2) == 0 && ops[i].Cancel() {
					cancelled.Add(1)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range n {
			if err := push.Send(ctx, []byte(fmt.Sprint(i)), sockets.Raw); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	// The receives not cancelled each get one message; the rest wait in
	// the queue.
	want := n - cancelled.Load()
	eventually(t, func() bool { return got.Load() == want })
	for got.Load() < n {
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatalf("after %d of %d: %v", got.Load(), n, err)
		}
		rcv.Received(m, nil)
	}
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("message %d received %d times", i, seen[i].Load())
		}
	}
}

type countReceiver struct {
	got  *atomic.Int64
	seen []atomic.Int32
}

func (r countReceiver) Received(m *sockets.Msg, err error) {
	if err != nil {
		return
	}
	var i int
	if _, err := fmt.Sscan(string(m.Body), &i); err == nil {
		r.seen[i].Add(1)
	}
	r.got.Add(1)
	m.Free()
}

// closer closes a socket from inside its Receiver.
type closer struct {
	s    *sockets.Socket
	errc chan error
}

func (c closer) Received(m *sockets.Msg, err error) {
	if err == nil {
		m.Free()
	}
	c.errc <- c.s.Close()
}

// A Receiver may close the socket it receives on, although it runs on the
// goroutine that reads the connection, which Close otherwise waits for.
func TestRecvAsyncReceiverClosesSocket(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		recv, send sockets.Protocol
	}{
		{"pull", sockets.Pull, sockets.Push},
		{"req", sockets.Req, sockets.Rep},
		{"sub", sockets.Sub, sockets.Pub},
		{"surveyor", sockets.Surveyor, sockets.Respondent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recv, send := open(t, tc.recv), open(t, tc.send)
			connect(t, recv, send, inprocURL("selfclose"))
			ctx := ctxT(t)
			switch tc.recv {
			case sockets.Sub:
				if err := recv.Subscribe(nil); err != nil {
					t.Fatal(err)
				}
			case sockets.Req, sockets.Surveyor:
				if err := recv.Send(ctx, "q"); err != nil {
					t.Fatal(err)
				}
				if _, err := send.Recv(ctx); err != nil {
					t.Fatal(err)
				}
			}
			c := closer{recv, make(chan error, 1)}
			var op sockets.RecvOp
			recv.RecvAsync(&op, c)
			if err := send.Send(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-c.errc:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close from the Receiver did not return")
			}
		})
	}
}
