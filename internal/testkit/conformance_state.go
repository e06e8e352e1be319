package testkit

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

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
	for _, p := range []sockets.Protocol{sockets.Req, sockets.Rep, sockets.Sub, sockets.Surveyor, sockets.Respondent} {
		cs = append(cs, ConfCase{Name: p.String() + "/state/no-context-raw", Run: func(t *testing.T, k *Link) {
			_, err := k.Open(p, sockets.WithRaw()).Context()
			WantCode(t, "raw "+p.String()+" Context", err, nanoact.ErrNotSupported)
		}})
	}
	return cs
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
