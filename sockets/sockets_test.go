package sockets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var seq atomic.Int64

// transports returns a fresh listen URL per transport.
func transports(t *testing.T) map[string]string {
	t.Helper()
	n := seq.Add(1)
	return map[string]string{
		"inproc":   fmt.Sprintf("inproc://sockets-test-%d", n),
		"ipc":      "ipc://" + filepath.Join(t.TempDir(), "s.ipc"),
		"tcp":      "tcp://127.0.0.1:0",
		"abstract": fmt.Sprintf("abstract://nanoact-sockets-test-%d-%d", os.Getpid(), n),
		"ws":       fmt.Sprintf("ws://127.0.0.1:0/sockets-test-%d", n),
	}
}

func open(t testing.TB, p sockets.Protocol, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	s, err := sockets.New(p, opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", p, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// connect makes a listen on url and b dial it synchronously, and waits
// until both see the connection.
func connect(t testing.TB, a, b *sockets.Socket, url string) {
	t.Helper()
	l, err := a.Listen(url)
	if err != nil {
		t.Fatalf("listen %s: %v", url, err)
	}
	if _, err := b.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatalf("dial %s: %v", l.URL(), err)
	}
	eventually(t, func() bool { return a.Pipes() == 1 && b.Pipes() == 1 })
}

// eventually polls cond for up to 5 s.
func eventually(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, target *nanoact.Error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// TestProtocolPairs runs every protocol pair over every transport, both
// ways round (the first socket listening, then the second).
func TestProtocolPairs(t *testing.T) {
	type exchange func(t *testing.T, a, b *sockets.Socket)
	cases := []struct {
		name string
		a, b sockets.Protocol
		run  exchange
	}{
		{"req-rep", sockets.Req, sockets.Rep, func(t *testing.T, req, rep *sockets.Socket) {
			ctx := ctxT(t)
			for i := range 3 {
				if err := req.Send(ctx, fmt.Sprintf("ping %d", i), sockets.Raw); err != nil {
					t.Fatal(err)
				}
				got, err := sockets.RecvAs[string](ctx, rep, sockets.Raw)
				if err != nil || got != fmt.Sprintf("ping %d", i) {
					t.Fatalf("rep got %q, %v", got, err)
				}
				if err := rep.Send(ctx, []float64{1.5, float64(i)}, sockets.Raw); err != nil {
					t.Fatal(err)
				}
				v, err := sockets.RecvAs[[]float64](ctx, req, sockets.Raw)
				if err != nil || len(v) != 2 || v[0] != 1.5 || v[1] != float64(i) {
					t.Fatalf("req got %v, %v", v, err)
				}
			}
		}},
		{"push-pull", sockets.Push, sockets.Pull, func(t *testing.T, push, pull *sockets.Socket) {
			ctx := ctxT(t)
			for i := range 10 {
				if err := push.Send(ctx, []byte{byte(i), 0, 255}, sockets.Raw); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 10 {
				b, err := sockets.RecvAs[[]byte](ctx, pull, sockets.Raw)
				if err != nil || !bytes.Equal(b, []byte{byte(i), 0, 255}) {
					t.Fatalf("pull got %v, %v", b, err)
				}
			}
		}},
		{"pub-sub", sockets.Pub, sockets.Sub, func(t *testing.T, pub, sub *sockets.Socket) {
			ctx := ctxT(t)
			if err := sub.Subscribe("news"); err != nil {
				t.Fatal(err)
			}
			// Subscriptions are local; publish until the first arrives.
			eventually(t, func() bool {
				_ = pub.Send(ctx, []string{"news", "hello"}, sockets.Raw)
				m, err := sub.Recv(sockets.NonBlock(ctx))
				return err == nil && bytes.Equal(m.Body, []byte("news\x00hello\x00"))
			})
			_ = pub.Send(ctx, "sport: skipped", sockets.Raw)
			_ = pub.Send(ctx, []string{"news", "again"}, sockets.Raw)
			for {
				v, err := sockets.RecvAs[[]string](ctx, sub, sockets.Raw)
				if err != nil {
					t.Fatal(err)
				}
				if v[0] != "news" {
					t.Fatalf("unsubscribed topic received: %q", v)
				}
				if v[1] == "again" {
					break
				}
			}
		}},
		{"surveyor-respondent", sockets.Surveyor, sockets.Respondent, func(t *testing.T, sur, resp *sockets.Socket) {
			ctx := ctxT(t)
			if err := sur.Send(ctx, "how many?", sockets.Raw); err != nil {
				t.Fatal(err)
			}
			q, err := sockets.RecvAs[string](ctx, resp, sockets.Raw)
			if err != nil || q != "how many?" {
				t.Fatalf("respondent got %q, %v", q, err)
			}
			if err := resp.Send(ctx, map[string]any{"n": 42}); err != nil {
				t.Fatal(err)
			}
			v, err := sockets.RecvAs[map[string]int](ctx, sur)
			if err != nil || v["n"] != 42 {
				t.Fatalf("surveyor got %v, %v", v, err)
			}
		}},
		{"pair-pair", sockets.Pair, sockets.Pair, pingPong},
		{"poly-poly", sockets.Poly, sockets.Poly, pingPong},
		{"bus-bus", sockets.Bus, sockets.Bus, pingPong},
	}
	for _, c := range cases {
		for tname := range transports(t) {
			for _, flip := range []bool{false, true} {
				dir := "a-listens"
				if flip {
					dir = "b-listens"
				}
				t.Run(c.name+"/"+tname+"/"+dir, func(t *testing.T) {
					t.Parallel()
					a, b := open(t, c.a), open(t, c.b)
					url := transports(t)[tname]
					if flip {
						connect(t, b, a, url)
					} else {
						connect(t, a, b, url)
					}
					c.run(t, a, b)
				})
			}
		}
	}
}

func pingPong(t *testing.T, a, b *sockets.Socket) {
	ctx := ctxT(t)
	for i := range 5 {
		if err := a.Send(ctx, int32(i)); err != nil {
			t.Fatal(err)
		}
		v, err := sockets.RecvAs[int](ctx, b)
		if err != nil || v != i {
			t.Fatalf("got %v, %v", v, err)
		}
		if err := b.Send(ctx, []int32{int32(i), -1}, sockets.Raw); err != nil {
			t.Fatal(err)
		}
		w, err := sockets.RecvAs[[]int32](ctx, a, sockets.Raw)
		if err != nil || len(w) != 2 || w[0] != int32(i) || w[1] != -1 {
			t.Fatalf("got %v, %v", w, err)
		}
	}
}

func TestBlockingSemantics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pull := open(t, sockets.Pull)
	_, err := pull.Recv(sockets.NonBlock(ctx))
	wantCode(t, err, nanoact.ErrTryAgain)

	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = pull.Recv(dctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout %v does not match context.DeadlineExceeded", err)
	}
	var ne *nanoact.Error
	if !errors.As(err, &ne) || ne.Code != 5 || ne.Code.String() != "5 | Timed out" {
		t.Fatalf("error code %v", err)
	}

	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	_, err = pull.Recv(cctx)
	wantCode(t, err, nanoact.ErrCanceled)

	// push with no peer: a non-blocking send cannot complete.
	push := open(t, sockets.Push)
	wantCode(t, push.Send(sockets.NonBlock(ctx), "x", sockets.Raw), nanoact.ErrTryAgain)
	tctx, tcancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer tcancel()
	wantCode(t, push.Send(tctx, "x", sockets.Raw), nanoact.ErrTimedOut)

	// pub and bus with no peer: the message is dropped, the send succeeds.
	for _, p := range []sockets.Protocol{sockets.Pub, sockets.Bus} {
		if err := open(t, p).Send(sockets.NonBlock(ctx), "dropped", sockets.Raw); err != nil {
			t.Fatalf("%s send with no peers: %v", p, err)
		}
	}
}

// A blocked receive is released by Close with ErrClosed.
func TestCloseReleasesBlockedRecv(t *testing.T) {
	t.Parallel()
	s, err := sockets.New(sockets.Pull)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	ctx, waiting := testkit.Waiting(context.Background())
	go func() {
		_, err := s.Recv(ctx)
		errc <- err
	}()
	<-waiting // the receive waits (it looks at ctx.Done as it blocks)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-errc, nanoact.ErrClosed)
}

func TestStateErrors(t *testing.T) {
	t.Parallel()
	ctx := sockets.NonBlock(context.Background())
	_, err := open(t, sockets.Req).Recv(ctx)
	wantCode(t, err, nanoact.ErrState)
	wantCode(t, open(t, sockets.Rep).Send(ctx, "x"), nanoact.ErrState)
	wantCode(t, open(t, sockets.Respondent).Send(ctx, "x"), nanoact.ErrState)
	_, err = open(t, sockets.Surveyor).Recv(ctx)
	wantCode(t, err, nanoact.ErrState)
	_, err = open(t, sockets.Push).Recv(ctx)
	wantCode(t, err, nanoact.ErrNotSupported)
	wantCode(t, open(t, sockets.Pull).Send(ctx, "x"), nanoact.ErrNotSupported)
	wantCode(t, open(t, sockets.Sub).Send(ctx, "x"), nanoact.ErrNotSupported)
	_, err = open(t, sockets.Pub).Recv(ctx)
	wantCode(t, err, nanoact.ErrNotSupported)
	wantCode(t, open(t, sockets.Push).Subscribe("x"), nanoact.ErrNotSupported)
	wantCode(t, open(t, sockets.Sub).Unsubscribe("never"), nanoact.ErrNotFound)
	wantCode(t, open(t, sockets.Req).Send(ctx, "x", sockets.ToPipe(7)), nanoact.ErrNotSupported)
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s, err := sockets.New(sockets.Req)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen("inproc://closed-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wantCode(t, s.Close(), nanoact.ErrClosed)
	wantCode(t, s.Send(ctx, "x"), nanoact.ErrClosed)
	_, err = s.Recv(ctx)
	wantCode(t, err, nanoact.ErrClosed)
	_, err = s.Dial("inproc://x")
	wantCode(t, err, nanoact.ErrClosed)
	_, err = s.Listen("inproc://y")
	wantCode(t, err, nanoact.ErrClosed)
	if l.State() != sockets.Closed {
		t.Fatalf("listener state %v after socket close", l.State())
	}
	wantCode(t, l.Close(), nanoact.ErrNotFound)
}

func TestBadURLs(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Pair)
	cases := []struct {
		url      string
		want     *nanoact.Error
		listenOK bool // as NNG, a tcp listener without port binds port 0
	}{
		{"test", nanoact.ErrInvalid, false},
		{"", nanoact.ErrInvalid, false},
		{"foo://bar", nanoact.ErrNotSupported, false},
		{"tcp://127.0.0.1", nanoact.ErrAddrInvalid, true},
		{"tcp://127.0.0.1:notaport", nanoact.ErrAddrInvalid, false},
		{"tcp://127.0.0.1:99999", nanoact.ErrAddrInvalid, false},
	}
	for _, c := range cases {
		l, err := s.Listen(c.url)
		if c.listenOK {
			if err != nil {
				t.Errorf("Listen(%q) = %v", c.url, err)
			} else {
				_ = l.Close()
			}
		} else if !errors.Is(err, c.want) {
			t.Errorf("Listen(%q) = %v, want %v", c.url, err, c.want)
		}
		_, err = s.Dial(c.url, sockets.Sync)
		if !errors.Is(err, c.want) {
			t.Errorf("Dial(%q) = %v, want %v", c.url, err, c.want)
		}
	}
	l, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = open(t, sockets.Pair).Listen(l.URL())
	wantCode(t, err, nanoact.ErrAddrInUse)
	_, err = sockets.New(sockets.Protocol(99))
	wantCode(t, err, nanoact.ErrNotSupported)
	_, err = sockets.New(sockets.Pair, sockets.Listen("bogus"))
	wantCode(t, err, nanoact.ErrInvalid)
}

func TestDialerStartModes(t *testing.T) {
	t.Parallel()
	for tname, url := range transports(t) {
		t.Run(tname, func(t *testing.T) {
			s := open(t, sockets.Push)
			// Sync with nobody listening: refused at once, no dialer left.
			probe := open(t, sockets.Pull)
			l, err := probe.Listen(url)
			if err != nil {
				t.Fatal(err)
			}
			bound := l.URL()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			_, err = s.Dial(bound, sockets.Sync)
			wantCode(t, err, nanoact.ErrConnRefused)
			if n := len(s.Dialers()); n != 0 {
				t.Fatalf("%d dialers left after refused sync dial", n)
			}
			// Later: created, not started, then Start.
			d, err := s.Dial(bound, sockets.Later)
			if err != nil {
				t.Fatal(err)
			}
			if d.State() != sockets.NotStarted {
				t.Fatalf("state %v", d.State())
			}
			wantCode(t, d.Start(sockets.Sync), nanoact.ErrConnRefused)
			pull := open(t, sockets.Pull)
			if _, err := pull.Listen(bound); err != nil {
				t.Fatal(err)
			}
			if err := d.Start(sockets.Sync); err != nil {
				t.Fatal(err)
			}
			wantCode(t, d.Start(sockets.Async), nanoact.ErrState)
			eventually(t, func() bool { return pull.Pipes() == 1 && d.Pipes() == 1 })
			// Closing the dialer closes its connection.
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			eventually(t, func() bool { return pull.Pipes() == 0 && s.Pipes() == 0 })
			wantCode(t, d.Close(), nanoact.ErrNotFound)
			wantCode(t, d.Start(sockets.Async), nanoact.ErrNotFound)
		})
	}
}

// An async dialer started before the listener exists keeps retrying.
func TestAsyncDialRetries(t *testing.T) {
	t.Parallel()
	url := fmt.Sprintf("inproc://retry-%d", seq.Add(1))
	push := open(t, sockets.Push, sockets.WithReconnect(5*time.Millisecond, 0))
	if _, err := push.Dial(url); err != nil {
		t.Fatal(err)
	}
	pull := open(t, sockets.Pull)
	if _, err := pull.Listen(url); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := push.Send(ctx, "late", sockets.Raw); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, pull, sockets.Raw); err != nil || v != "late" {
		t.Fatalf("got %q %v", v, err)
	}
}

func TestSurveyTimeout(t *testing.T) {
	t.Parallel()
	sur, resp := open(t, sockets.Surveyor), open(t, sockets.Respondent)
	connect(t, sur, resp, fmt.Sprintf("inproc://survey-%d", seq.Add(1)))
	if err := sur.SetSurveyTime(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := sur.Send(ctx, "anyone?", sockets.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	// The respondent stays silent: the survey ends with a time-out, and a
	// receive after it finds no survey running.
	_, err := sur.Recv(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	_, err = sur.Recv(ctx)
	wantCode(t, err, nanoact.ErrState)
	// The next survey works.
	if err := sur.Send(ctx, "again?", sockets.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	if err := resp.Send(ctx, "yes", sockets.Raw); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, sur, sockets.Raw); err != nil || v != "yes" {
		t.Fatalf("got %q %v", v, err)
	}
	// wantCode: a send to a surveyor-less respondent with no survey is a state error.
	wantCode(t, resp.Send(ctx, "late"), nanoact.ErrState)
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	pub, sub := open(t, sockets.Pub), open(t, sockets.Sub)
	connect(t, pub, sub, fmt.Sprintf("inproc://subs-%d", seq.Add(1)))
	ctx := ctxT(t)
	nb := sockets.NonBlock(ctx)
	// Nothing subscribed: nothing received.
	_ = pub.Send(ctx, "a", sockets.Raw)
	_, err := sub.Recv(nb)
	wantCode(t, err, nanoact.ErrTryAgain)
	// A float64 topic matches its 8 bytes.
	if err := sub.Subscribe(2.0); err != nil {
		t.Fatal(err)
	}
	_ = pub.Send(ctx, []float64{1, 10}, sockets.Raw)
	_ = pub.Send(ctx, []float64{2, 10, 20}, sockets.Raw)
	v, err := sockets.RecvAs[[]float64](ctx, sub, sockets.Raw)
	if err != nil || len(v) != 3 || v[2] != 20 {
		t.Fatalf("got %v %v", v, err)
	}
	// The empty topic matches everything; unsubscribing it leaves the others.
	if err := sub.Subscribe(nil); err != nil {
		t.Fatal(err)
	}
	_ = pub.Send(ctx, "any", sockets.Raw)
	if s, err := sockets.RecvAs[string](ctx, sub, sockets.Raw); err != nil || s != "any" {
		t.Fatalf("got %q %v", s, err)
	}
	if err := sub.Unsubscribe(""); err != nil {
		t.Fatal(err)
	}
	_ = pub.Send(ctx, "gone", sockets.Raw)
	_ = pub.Send(ctx, []float64{2}, sockets.Raw)
	if v, err := sockets.RecvAs[[]float64](ctx, sub, sockets.Raw); err != nil || len(v) != 1 {
		t.Fatalf("got %v %v", v, err)
	}
}

func TestTypedReceives(t *testing.T) {
	t.Parallel()
	push, pull := open(t, sockets.Push), open(t, sockets.Pull)
	connect(t, pull, push, fmt.Sprintf("inproc://typed-%d", seq.Add(1)))
	ctx := ctxT(t)
	send := func(v any) {
		t.Helper()
		if err := push.Send(ctx, v, sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	send([]string{"test", "", "spec"})
	if v, err := sockets.RecvAs[[]string](ctx, pull, sockets.Raw); err != nil || len(v) != 3 || v[1] != "" || v[2] != "spec" {
		t.Fatalf("character: %q %v", v, err)
	}
	send([]float64{math.Pi, math.Inf(-1)})
	if v, err := pull.RecvMode(ctx, sockets.Double); err != nil || v.([]float64)[0] != math.Pi {
		t.Fatalf("double: %v %v", v, err)
	}
	send([]bool{true, false})
	if v, err := sockets.RecvAs[[]bool](ctx, pull, sockets.Raw); err != nil || !v[0] || v[1] {
		t.Fatalf("logical: %v %v", v, err)
	}
	send([]complex128{complex(1, -2)})
	if v, err := sockets.RecvAs[complex128](ctx, pull, sockets.Raw); err != nil || v != complex(1, -2) {
		t.Fatalf("complex: %v %v", v, err)
	}
	// 12 bytes asked for as doubles: bytes back with a typed error.
	send(make([]byte, 12))
	_, err := sockets.RecvAs[[]float64](ctx, pull, sockets.Raw)
	var ce *nanoact.ConvertError
	if !errors.As(err, &ce) || len(ce.Data) != 12 || !errors.Is(err, nanoact.ErrBadType) {
		t.Fatalf("want ConvertError with 12 bytes, got %v", err)
	}
	// Serial mode round trip of a struct.
	type point struct{ X, Y int }
	if err := push.Send(ctx, point{3, 4}); err != nil {
		t.Fatal(err)
	}
	if p, err := sockets.RecvAs[point](ctx, pull); err != nil || p != (point{3, 4}) {
		t.Fatalf("serial: %v %v", p, err)
	}
	// Raw mode cannot encode a struct.
	wantCode(t, push.Send(ctx, point{}, sockets.Raw), nanoact.ErrBadType)
}

func TestDirectedSend(t *testing.T) {
	t.Parallel()
	hub := open(t, sockets.Poly)
	url := fmt.Sprintf("inproc://poly-%d", seq.Add(1))
	if _, err := hub.Listen(url); err != nil {
		t.Fatal(err)
	}
	a, b := open(t, sockets.Poly), open(t, sockets.Poly)
	for _, s := range []*sockets.Socket{a, b} {
		if _, err := s.Dial(url, sockets.Sync); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return hub.Pipes() == 2 })
	ctx := ctxT(t)
	// a says hello; the hub answers a's pipe only.
	if err := a.Send(ctx, "from a", sockets.Raw); err != nil {
		t.Fatal(err)
	}
	m, err := hub.Recv(ctx)
	if err != nil || m.Pipe == 0 {
		t.Fatalf("recv %v %v", m, err)
	}
	for range 3 {
		if err := hub.Send(ctx, "to a", sockets.Raw, sockets.ToPipe(m.Pipe)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if v, err := sockets.RecvAs[string](ctx, a, sockets.Raw); err != nil || v != "to a" {
			t.Fatalf("a got %q %v", v, err)
		}
	}
	_, err = b.Recv(sockets.NonBlock(ctx))
	wantCode(t, err, nanoact.ErrTryAgain)
}

func TestReqResendAndCancel(t *testing.T) {
	t.Parallel()
	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	connect(t, req, rep, fmt.Sprintf("inproc://req-%d", seq.Add(1)))
	ctx := ctxT(t)
	// A second request replaces the first: the first's reply is dropped.
	_ = req.Send(ctx, "one", sockets.Raw)
	_ = req.Send(ctx, "two", sockets.Raw)
	for _, want := range []string{"one", "two"} {
		got, err := sockets.RecvAs[string](ctx, rep, sockets.Raw)
		if err != nil || got != want {
			t.Fatalf("rep got %q %v", got, err)
		}
		_ = rep.Send(ctx, "re: "+got, sockets.Raw)
	}
	if got, err := sockets.RecvAs[string](ctx, req, sockets.Raw); err != nil || got != "re: two" {
		t.Fatalf("req got %q %v", got, err)
	}
	// The request is answered: receiving again is a state error.
	_, err := req.Recv(ctx)
	wantCode(t, err, nanoact.ErrState)
}

// recvErrs is a Receiver that hands on each receive's error.
type recvErrs chan error

func (c recvErrs) Received(m *sockets.Msg, err error) {
	if m != nil {
		m.Free()
	}
	c <- err
}

// A new survey cancels the receive waiting on the previous one, and late
// answers to the old survey are dropped.
func TestSurveyReplaced(t *testing.T) {
	t.Parallel()
	sur, resp := open(t, sockets.Surveyor), open(t, sockets.Respondent)
	connect(t, sur, resp, fmt.Sprintf("inproc://survey-replaced-%d", seq.Add(1)))
	ctx := ctxT(t)
	if err := sur.Send(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	// The receive is waiting in the surveyor's queue when RecvAsync
	// returns, so the second survey surely finds it there.
	errc := make(recvErrs, 1)
	var op sockets.RecvOp
	sur.RecvAsync(&op, errc)
	if err := sur.Send(ctx, "second"); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	wantCode(t, err, nanoact.ErrCanceled)
	_ = resp.Send(ctx, "late answer to first") // dropped: its survey is over
	if _, err := resp.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	_ = resp.Send(ctx, "answer to second")
	if v, err := sockets.RecvAs[string](ctx, sur); err != nil || v != "answer to second" {
		t.Fatalf("%q %v", v, err)
	}
}

// tcp by host name and over IPv6 loopback.
func TestTCPHostNamesAndIPv6(t *testing.T) {
	t.Parallel()
	urls := []string{"tcp://localhost:0", "tcp4://127.0.0.1:0"}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		_ = ln.Close()
		urls = append(urls, "tcp://[::1]:0", "tcp6://[::1]:0")
	} else {
		t.Logf("no IPv6 loopback here: %v", err)
	}
	for _, url := range urls {
		rep, req := open(t, sockets.Rep), open(t, sockets.Req)
		connect(t, rep, req, url)
		ctx := ctxT(t)
		if err := req.Send(ctx, url); err != nil {
			t.Fatal(err)
		}
		if v, err := sockets.RecvAs[string](ctx, rep); err != nil || v != url {
			t.Fatalf("%s: %q %v", url, v, err)
		}
	}
}
