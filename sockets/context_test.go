package sockets_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/cv"
	"github.com/nanoact/nanoact/sockets"
)

// 1,000 requesters, each on its own context of one req socket, against a
// rep socket served by 8 contexts: every reply reaches the context that
// asked.
func TestContextsManyRequesters(t *testing.T) {
	t.Parallel()
	rep, req := open(t, sockets.Rep), open(t, sockets.Req)
	connect(t, rep, req, "tcp://127.0.0.1:0")
	ctx := ctxT(t)

	var servers sync.WaitGroup
	for range 8 {
		rc, err := rep.Context()
		if err != nil {
			t.Fatal(err)
		}
		servers.Go(func() {
			for {
				n, err := sockets.RecvAs[int](ctx, rc)
				if err != nil {
					return // socket closed at the end of the test
				}
				if err := rc.Send(ctx, []int{n, n * 2}); err != nil {
					return
				}
			}
		})
	}
	t.Cleanup(func() { _ = rep.Close(); servers.Wait() })

	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c, err := req.Context()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Send(ctx, i); err != nil {
				errs <- err
				return
			}
			got, err := sockets.RecvAs[[]int](ctx, c)
			if err != nil {
				errs <- err
				return
			}
			if got[0] != i || got[1] != 2*i {
				errs <- fmt.Errorf("requester %d got %v", i, got)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestContextSupport(t *testing.T) {
	t.Parallel()
	for _, p := range []sockets.Protocol{sockets.Bus, sockets.Pair, sockets.Poly, sockets.Push, sockets.Pull, sockets.Pub} {
		_, err := open(t, p).Context()
		wantCode(t, err, nanoact.ErrNotSupported)
	}
	_, err := open(t, sockets.Req, sockets.WithRaw()).Context()
	wantCode(t, err, nanoact.ErrNotSupported)
	for _, p := range []sockets.Protocol{sockets.Req, sockets.Rep, sockets.Sub, sockets.Surveyor, sockets.Respondent} {
		c, err := open(t, p).Context()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		wantCode(t, c.Close(), nanoact.ErrClosed)
		wantCode(t, c.Send(context.Background(), "x"), nanoact.ErrClosed)
	}
}

// Closing a socket closes its contexts: a receive waiting on one ends.
func TestContextClosedWithSocket(t *testing.T) {
	t.Parallel()
	s, err := sockets.New(sockets.Rep)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Context()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Recv(context.Background())
		errc <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-errc, nanoact.ErrClosed)
	wantCode(t, c.Close(), nanoact.ErrClosed)
	_, err = s.Context()
	wantCode(t, err, nanoact.ErrClosed)
}

// Each context has its own state machine: req recv before send, and rep
// send before recv, are state errors per context.
func TestContextState(t *testing.T) {
	t.Parallel()
	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	connect(t, rep, req, fmt.Sprintf("inproc://ctx-state-%d", seq.Add(1)))
	ctx := ctxT(t)
	a, _ := req.Context()
	b, _ := req.Context()
	_, err := a.Recv(ctx)
	wantCode(t, err, nanoact.ErrState)
	r, _ := rep.Context()
	wantCode(t, r.Send(ctx, "x"), nanoact.ErrState)
	// b's request does not give a an outstanding request.
	if err := b.Send(ctx, "from b"); err != nil {
		t.Fatal(err)
	}
	_, err = a.Recv(sockets.NonBlock(ctx))
	wantCode(t, err, nanoact.ErrState)
	if v, err := sockets.RecvAs[string](ctx, r); err != nil || v != "from b" {
		t.Fatalf("%q %v", v, err)
	}
	if err := r.Send(ctx, "to b"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, b); err != nil || v != "to b" {
		t.Fatalf("%q %v", v, err)
	}
}

// Sub contexts have their own subscriptions.
func TestSubContexts(t *testing.T) {
	t.Parallel()
	pub, sub := open(t, sockets.Pub), open(t, sockets.Sub)
	connect(t, pub, sub, fmt.Sprintf("inproc://subctx-%d", seq.Add(1)))
	ctx := ctxT(t)
	a, _ := sub.Context()
	b, _ := sub.Context()
	if err := a.Subscribe("a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe("b"); err != nil {
		t.Fatal(err)
	}
	_ = pub.Send(ctx, "a1", sockets.Raw)
	_ = pub.Send(ctx, "b1", sockets.Raw)
	if v, err := sockets.RecvAs[string](ctx, a, sockets.Raw); err != nil || v != "a1" {
		t.Fatalf("a got %q %v", v, err)
	}
	if v, err := sockets.RecvAs[string](ctx, b, sockets.Raw); err != nil || v != "b1" {
		t.Fatalf("b got %q %v", v, err)
	}
	_, err := sub.Recv(sockets.NonBlock(ctx)) // the socket itself subscribed nothing
	wantCode(t, err, nanoact.ErrTryAgain)
	wantCode(t, a.Unsubscribe("b"), nanoact.ErrNotFound)
}

// Surveyor contexts run concurrent surveys; each gets its own answers.
func TestSurveyorContexts(t *testing.T) {
	t.Parallel()
	sur, resp := open(t, sockets.Surveyor), open(t, sockets.Respondent)
	connect(t, sur, resp, fmt.Sprintf("inproc://surctx-%d", seq.Add(1)))
	ctx := ctxT(t)
	go func() {
		for {
			q, err := sockets.RecvAs[string](ctx, resp)
			if err != nil {
				return
			}
			_ = resp.Send(ctx, "re: "+q)
		}
	}()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			c, err := sur.Context()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			q := fmt.Sprintf("survey %d", i)
			if err := c.Send(ctx, q); err != nil {
				t.Error(err)
				return
			}
			if v, err := sockets.RecvAs[string](ctx, c); err != nil || v != "re: "+q {
				t.Errorf("context %d got %q %v", i, v, err)
			}
		})
	}
	wg.Wait()
}

// jsonCodec is a second Codec, to see which one a context uses.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func (jsonCodec) String() string                  { return "json" }
func isJSON(c sockets.Codec) bool                 { _, ok := c.(jsonCodec); return ok }
func mustContext(t *testing.T, s *sockets.Socket) *sockets.Context {
	t.Helper()
	c, err := s.Context()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A codec set on the socket reaches the contexts opened after it, not those
// opened before (nanonext's serial_config rule).
func TestCodecInheritance(t *testing.T) {
	t.Parallel()
	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	connect(t, rep, req, fmt.Sprintf("inproc://codec-%d", seq.Add(1)))
	before := mustContext(t, req)
	req.SetCodec(jsonCodec{})
	after := mustContext(t, req)
	if isJSON(before.Codec()) || !isJSON(after.Codec()) || !isJSON(req.Codec()) {
		t.Fatal("codec inheritance wrong")
	}
	ctx := ctxT(t)
	if err := after.Send(ctx, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	m, err := rep.Recv(ctx)
	if err != nil || string(m.Body) != "\xd9\xd9\xf7"+`{"a":1}` {
		t.Fatalf("wire %q %v", m.Body, err)
	}
}

func TestWatchPipes(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Pair)
	l, err := s.Listen(fmt.Sprintf("inproc://watch-%d", seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var evs []sockets.PipeEvent
	stop, err := s.WatchPipes(func(e sockets.PipeEvent) {
		mu.Lock()
		evs = append(evs, e)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	peer := open(t, sockets.Pair)
	d, err := peer.Dial(l.URL(), sockets.Sync)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(evs) == 1 })
	_ = d.Close()
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(evs) == 2 })
	mu.Lock()
	if !evs[0].Added || evs[1].Added || evs[0].Pipe != evs[1].Pipe || evs[0].Pipe == 0 {
		t.Fatalf("events %+v", evs)
	}
	mu.Unlock()
	stop()
	stop()
	// A watcher that panics is logged, not fatal.
	stop2, _ := s.WatchPipes(func(sockets.PipeEvent) { panic("boom") })
	defer stop2()
	// Watchers are called in the order they were added, one event after
	// the other: once a watcher added last has seen the new pipe, the
	// stopped one would have been called for it (and the panic is past).
	seen := make(chan struct{})
	var seenOnce sync.Once
	stop3, _ := s.WatchPipes(func(e sockets.PipeEvent) {
		if e.Added {
			seenOnce.Do(func() { close(seen) })
		}
	})
	defer stop3()
	if _, err := peer.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	select {
	case <-seen:
	case <-time.After(5 * time.Second):
		t.Fatal("the last watcher did not see the new pipe within 5s")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(evs) != 2 {
		t.Fatalf("stopped watcher still called: %+v", evs)
	}
	closed, _ := sockets.New(sockets.Pair)
	_ = closed.Close()
	_, err = closed.WatchPipes(func(sockets.PipeEvent) {})
	if !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("watch on closed socket: %v", err)
	}
}

// The socket, as supervisor of its contexts, tells registered CVs of
// their events: a context that closes, and the socket's close, are normal
// stops (Wait true, no failure); a control operation that panics is a
// failure (Wait false, Err the cause).
func TestSupervisorSignals(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	s := open(t, sockets.Rep)
	c := cv.New()
	s.Supervise(c)
	a, _ := mustContext(t, s), mustContext(t, s)
	_ = a.Close()
	if !c.Wait(ctx) || c.Err() != nil || c.Last().Kind != cv.Stopped {
		t.Fatalf("context close: err %v, last %+v", c.Err(), c.Last())
	}
	if err := sockets.ControlPanic(s); !errors.Is(err, nanoact.ErrInternal) {
		t.Fatal(err)
	}
	if c.Wait(ctx) || !errors.Is(c.Err(), nanoact.ErrInternal) || c.Last().Kind != cv.Failed {
		t.Fatalf("panic: err %v, last %+v", c.Err(), c.Last())
	}
	c.Reset()
	_ = s.Close() // stops the other context, then closes the broadcast
	if !c.Wait(ctx) || !c.Wait(ctx) || c.Err() != nil || c.Last().Kind != cv.Closed {
		t.Fatalf("socket close: err %v, last %+v", c.Err(), c.Last())
	}
	late := cv.New()
	unregister := s.Supervise(late)
	unregister()
	if late.Value() != 1 || late.Last().Kind != cv.Closed {
		t.Fatalf("late Supervise: %d %+v", late.Value(), late.Last())
	}
}

// ClosePipe drops one connection; the dialer redials, and an unknown id
// is ErrNotFound.
func TestClosePipe(t *testing.T) {
	t.Parallel()
	pull, push := open(t, sockets.Pull), open(t, sockets.Push)
	var added, removed atomic.Int32
	var first atomic.Uint32
	if _, err := pull.WatchPipes(func(ev sockets.PipeEvent) {
		if ev.Added {
			first.CompareAndSwap(0, ev.Pipe)
			added.Add(1)
		} else {
			removed.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	connect(t, pull, push, fmt.Sprintf("inproc://close-pipe-%d", seq.Add(1)))
	eventually(t, func() bool { return first.Load() != 0 })
	if err := pull.ClosePipe(first.Load()); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return removed.Load() == 1 && added.Load() == 2 && pull.Pipes() == 1 })
	wantCode(t, pull.ClosePipe(first.Load()), nanoact.ErrNotFound)
	wantCode(t, pull.ClosePipe(0), nanoact.ErrNotFound)
}

// Contexts opened while their socket closes either fail with ErrClosed or
// are closed by it: none outlives the socket open.
func TestContextOpenRacesClose(t *testing.T) {
	t.Parallel()
	s, err := sockets.New(sockets.Req)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make(chan *sockets.Context, 400)
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c, err := s.Context()
				if err != nil {
					wantCode(t, err, nanoact.ErrClosed)
					return
				}
				got <- c
			}
		})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(got)
	for c := range got {
		wantCode(t, c.Close(), nanoact.ErrClosed)
		_, err := c.Recv(context.Background())
		wantCode(t, err, nanoact.ErrClosed)
	}
}
