package aio_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

func TestRecvPendingThenMessage(t *testing.T) {
	push, pull := pushPull(t)
	r := aio.Recv[string](pull)
	if r.Resolved() || aio.Unresolved(r) == false {
		t.Fatal("resolved before any message")
	}
	if _, err := r.Result(); !errors.Is(err, nanoact.ErrTryAgain) {
		t.Fatalf("Result while pending: %v, want ErrTryAgain", err)
	}
	if r.Pipe() != 0 {
		t.Fatal("pipe id while pending")
	}
	if err := push.Send(ctxT(t), "hello"); err != nil {
		t.Fatal(err)
	}
	v, err := r.Value(ctxT(t))
	if err != nil || v != "hello" {
		t.Fatalf("Value = %q, %v", v, err)
	}
	if r.Pipe() == 0 {
		t.Fatal("no pipe id after receiving")
	}
	// Cached: every read gives the same.
	for range 3 {
		if v2, err := r.Result(); v2 != v || err != nil {
			t.Fatalf("Result = %q, %v", v2, err)
		}
	}
	if aio.Unresolved(r) {
		t.Fatal("Unresolved after resolution")
	}
}

func TestRecvAlreadyQueued(t *testing.T) {
	push, pull := pushPull(t)
	ctx := ctxT(t)
	// Make sure the message is in pull's queue: the first aio waits for it,
	// the second message then lands in the queue behind nobody.
	first := aio.Recv[int](pull)
	for i := range 2 {
		if err := push.Send(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := first.Value(ctx); v != 0 || err != nil {
		t.Fatalf("first = %d, %v", v, err)
	}
	var second *aio.Aio[int]
	for {
		second = aio.Recv[int](pull, aio.Timeout(0))
		if _, err := second.Result(); !errors.Is(err, nanoact.ErrTimedOut) {
			break
		}
	}
	// Timeout(0) completes on the caller's goroutine: resolved on return.
	if v, err := second.Result(); v != 1 || err != nil {
		t.Fatalf("second = %d, %v", v, err)
	}
}

func TestRecvModes(t *testing.T) {
	push, pull := pushPull(t)
	ctx := ctxT(t)

	t.Run("raw bytes", func(t *testing.T) {
		r := aio.Recv[[]byte](pull, aio.Mode(sockets.Raw))
		_ = push.Send(ctx, []byte{1, 2, 3}, sockets.Raw)
		if v, err := r.Value(ctx); err != nil || !bytes.Equal(v, []byte{1, 2, 3}) {
			t.Fatalf("%v, %v", v, err)
		}
	})
	t.Run("raw string", func(t *testing.T) {
		r := aio.Recv[string](pull, aio.Mode(sockets.String))
		_ = push.Send(ctx, "text", sockets.Raw)
		if v, err := r.Value(ctx); err != nil || v != "text" {
			t.Fatalf("%q, %v", v, err)
		}
	})
	t.Run("raw doubles", func(t *testing.T) {
		r := aio.Recv[[]float64](pull, aio.Mode(sockets.Double))
		_ = push.Send(ctx, []float64{1.5, 2.5}, sockets.Raw)
		if v, err := r.Value(ctx); err != nil || !slices.Equal(v, []float64{1.5, 2.5}) {
			t.Fatalf("%v, %v", v, err)
		}
	})
	t.Run("serial struct", func(t *testing.T) {
		type point struct{ X, Y int }
		r := aio.Recv[point](pull)
		_ = push.Send(ctx, point{3, 4})
		if v, err := r.Value(ctx); err != nil || v != (point{3, 4}) {
			t.Fatalf("%v, %v", v, err)
		}
	})
	t.Run("message", func(t *testing.T) {
		r := aio.Recv[*sockets.Msg](pull)
		_ = push.Send(ctx, []byte("whole"), sockets.Raw)
		m, err := r.Value(ctx)
		if err != nil || string(m.Body) != "whole" || m.Pipe == 0 || m.Pipe != r.Pipe() {
			t.Fatalf("%+v, %v", m, err)
		}
		m.Free()
	})
	t.Run("convert error keeps bytes and pipe", func(t *testing.T) {
		r := aio.Recv[[]float64](pull, aio.Mode(sockets.Double))
		_ = push.Send(ctx, []byte{1, 2, 3}, sockets.Raw)
		_, err := r.Value(ctx)
		var ce *nanoact.ConvertError
		if !errors.As(err, &ce) || !bytes.Equal(ce.Data, []byte{1, 2, 3}) || !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("err = %v", err)
		}
		if r.Pipe() == 0 {
			t.Fatal("no pipe id")
		}
	})
}

func TestSend(t *testing.T) {
	push, pull := pushPull(t)
	ctx := ctxT(t)

	s := aio.Send(push, "one")
	if _, err := s.Value(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, pull); v != "one" || err != nil {
		t.Fatalf("%q, %v", v, err)
	}
	if s.Pipe() != 0 {
		t.Fatal("send aio has a pipe id")
	}

	buf := []byte("raw")
	s = aio.Send(push, buf, aio.Mode(sockets.Raw))
	buf[0] = 'X' // Send copied it
	if _, err := s.Value(ctx); err != nil {
		t.Fatal(err)
	}
	if m, err := pull.Recv(ctx); err != nil || string(m.Body) != "raw" {
		t.Fatalf("%v, %v", m, err)
	}

	s = aio.Send(push, sockets.NewMsg([]byte("msg")))
	if _, err := s.Value(ctx); err != nil {
		t.Fatal(err)
	}
	if m, err := pull.Recv(ctx); err != nil || string(m.Body) != "msg" {
		t.Fatalf("%v, %v", m, err)
	}
}

func TestSendErrors(t *testing.T) {
	ctx := ctxT(t)
	pull := open(t, sockets.Pull)
	push := open(t, sockets.Push)
	for _, tc := range []struct {
		name string
		a    *aio.SendAio
		want *nanoact.Error
	}{
		{"nil conn", aio.Send(nil, 1), nanoact.ErrInvalid},
		{"not supported", aio.Send(pull, 1), nanoact.ErrNotSupported},
		{"bad raw value", aio.Send(push, make(chan int), aio.Mode(sockets.Raw), aio.Timeout(0)), nanoact.ErrBadType},
		{"bad mode", aio.Send(push, 1, aio.Mode(sockets.Double), aio.Timeout(0)), nanoact.ErrInvalid},
		{"no peer, zero timeout", aio.Send(push, 1, aio.Timeout(0)), nanoact.ErrTimedOut},
		{"no peer, timeout", aio.Send(push, 1, aio.Timeout(5*time.Millisecond)), nanoact.ErrTimedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.a.Value(ctx)
			wantCode(t, err, tc.want)
		})
	}
	closed := open(t, sockets.Push)
	_ = closed.Close()
	_, err := aio.Send(closed, 1).Value(ctx)
	wantCode(t, err, nanoact.ErrClosed)
	_, err = aio.Recv[int](closed).Value(ctx)
	wantCode(t, err, nanoact.ErrClosed)
}

// A send that has to wait captures its data when Send is called and
// completes when a peer comes.
func TestSendWaitsForPeer(t *testing.T) {
	ctx := ctxT(t)
	push := open(t, sockets.Push)
	pull := open(t, sockets.Pull)
	buf := []byte("early")
	s := aio.Send(push, buf, aio.Mode(sockets.Raw))
	buf[0] = 'X'
	if s.Resolved() {
		t.Fatal("sent with no peer")
	}
	connect(t, pull, push, "")
	if _, err := s.Value(ctx); err != nil {
		t.Fatal(err)
	}
	if m, err := pull.Recv(ctx); err != nil || string(m.Body) != "early" {
		t.Fatalf("%v, %v", m, err)
	}
}

func TestStopPendingRecv(t *testing.T) {
	pull := open(t, sockets.Pull)
	r := aio.Recv[string](pull)
	r.Stop()
	_, err := r.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not match context.Canceled", err)
	}
	r.Stop() // idempotent
	if _, err2 := r.Result(); err2 != err {
		t.Fatal("second Stop changed the result")
	}
}

func TestStopPendingSend(t *testing.T) {
	push := open(t, sockets.Push)
	m := sockets.NewMsg([]byte("mine"))
	s := aio.Send(push, m)
	s.Stop()
	_, err := s.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	// The message goes back to the caller.
	if string(m.Body) != "mine" {
		t.Fatalf("message body after cancel: %q", m.Body)
	}
	m.Free()
}

func TestStopResolvedKeepsResult(t *testing.T) {
	push, pull := pushPull(t)
	r := aio.Recv[int](pull)
	_ = push.Send(ctxT(t), 7)
	if v, err := r.Value(ctxT(t)); v != 7 || err != nil {
		t.Fatal(v, err)
	}
	r.Stop()
	if v, err := r.Result(); v != 7 || err != nil {
		t.Fatalf("after Stop: %d, %v", v, err)
	}
}

// A Stop racing with completion changes nothing: each aio resolves once,
// either with its message or canceled, and a canceled receive leaves the
// message for the next one. Every message is received exactly once.
func TestStopRacesCompletion(t *testing.T) {
	push, pull := pushPull(t)
	ctx := ctxT(t)
	const n = 300
	got := make(map[int]int)
	canceled := 0
	var wg sync.WaitGroup
	for i := range n {
		r := aio.Recv[int](pull)
		switch i % 4 {
		case 0:
			wg.Go(r.Stop)
		case 3:
			r.Stop() // certainly canceled: the message stays for a later receive
		}
		if err := push.Send(ctx, i); err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 1:
			r.Stop()
		case 2:
			wg.Go(r.Stop)
		}
		v, err := r.Value(ctx)
		switch {
		case err == nil:
			got[v]++
		case errors.Is(err, nanoact.ErrCanceled):
			canceled++
			// The message is still there for the next receive.
			v, err := aio.Recv[int](pull).Value(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got[v]++
		default:
			t.Fatalf("aio %d: %v", i, err)
		}
		if v2, err2 := r.Result(); v2 != v || !errors.Is(err2, err) && err2 != err {
			t.Fatal("result changed")
		}
	}
	wg.Wait()
	t.Logf("%d of %d receives canceled", canceled, n)
	for {
		v, err := aio.Recv[int](pull, aio.Timeout(200*time.Millisecond)).Value(ctx)
		if errors.Is(err, nanoact.ErrTimedOut) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[v]++
	}
	for i := range n {
		if got[i] != 1 {
			t.Fatalf("message %d received %d times", i, got[i])
		}
	}
}

func TestTimeout(t *testing.T) {
	ctx := ctxT(t)
	t.Run("positive", func(t *testing.T) {
		pull := open(t, sockets.Pull)
		_, err := aio.Recv[int](pull, aio.Timeout(10*time.Millisecond)).Value(ctx)
		wantCode(t, err, nanoact.ErrTimedOut)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v does not match DeadlineExceeded", err)
		}
	})
	t.Run("zero", func(t *testing.T) {
		pull := open(t, sockets.Pull)
		r := aio.Recv[int](pull, aio.Timeout(0))
		if !r.Resolved() {
			t.Fatal("Timeout(0) did not resolve at once")
		}
		_, err := r.Result()
		wantCode(t, err, nanoact.ErrTimedOut)
	})
	t.Run("default is the socket's", func(t *testing.T) {
		pull := open(t, sockets.Pull)
		if err := sockets.Set(pull, sockets.RecvTimeout, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		forever := aio.Recv[int](pull, aio.Timeout(-1))
		_, err := aio.Recv[int](pull).Value(ctx)
		wantCode(t, err, nanoact.ErrTimedOut)
		if forever.Resolved() {
			t.Fatal("Timeout(-1) did not override the socket's recv-timeout")
		}
		forever.Stop()
		_, err = forever.Result()
		wantCode(t, err, nanoact.ErrCanceled)
	})
	t.Run("stop under the socket's timeout", func(t *testing.T) {
		// The socket derives its own deadline from the aio's context;
		// Stop must reach through it.
		pull := open(t, sockets.Pull)
		_ = sockets.Set(pull, sockets.RecvTimeout, time.Hour)
		r := aio.Recv[int](pull)
		r.Stop()
		_, err := r.Result()
		wantCode(t, err, nanoact.ErrCanceled)
	})
	t.Run("socket timeout on a context", func(t *testing.T) {
		rep := open(t, sockets.Rep)
		c, err := rep.Context()
		if err != nil {
			t.Fatal(err)
		}
		_ = sockets.Set(c, sockets.RecvTimeout, 10*time.Millisecond)
		_, err = aio.Recv[int](c).Value(ctx)
		wantCode(t, err, nanoact.ErrTimedOut)
	})
}

// Cancelling the wait does not cancel the operation.
func TestValueContextAbandonsWaitOnly(t *testing.T) {
	push, pull := pushPull(t)
	r := aio.Recv[string](pull)
	short, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	_, err := r.Value(short)
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_, err = r.Value(cctx)
	wantCode(t, err, nanoact.ErrCanceled)
	if r.Resolved() {
		t.Fatal("ending the wait resolved the aio")
	}
	_ = push.Send(ctxT(t), "later")
	if v, err := r.Value(ctxT(t)); v != "later" || err != nil {
		t.Fatal(v, err)
	}
	// A resolved aio answers even under an ended context.
	if v, err := r.Value(cctx); v != "later" || err != nil {
		t.Fatal(v, err)
	}
}

func TestOnComplete(t *testing.T) {
	push, pull := pushPull(t)
	r := aio.Recv[int](pull)
	var calls []string
	var mu sync.Mutex
	add := func(s string) {
		mu.Lock()
		calls = append(calls, s)
		mu.Unlock()
	}
	done := make(chan struct{})
	r.OnComplete(func(v int, err error) { add("first") })
	r.OnComplete(func(int, error) { panic("boom") }) // recovered; the others still run
	r.OnComplete(func(v int, err error) {
		if v != 5 || err != nil {
			add("bad")
		}
		add("second")
		close(done)
	})
	_ = push.Send(ctxT(t), 5)
	<-done
	// After resolution: called at once, on this goroutine.
	ran := false
	r.OnComplete(func(v int, err error) { ran = v == 5 && err == nil })
	if !ran {
		t.Fatal("late callback not run at once")
	}
	r.OnComplete(nil)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(calls, []string{"first", "second"}) {
		t.Fatalf("calls = %v", calls)
	}
}

// Many goroutines attach callbacks while the aio resolves: each runs
// exactly once.
func TestOnCompleteExactlyOnceUnderRace(t *testing.T) {
	push, pull := pushPull(t)
	for range 50 {
		r := aio.Recv[int](pull)
		var n atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					r.OnComplete(func(int, error) { n.Add(1) })
				}
			})
		}
		_ = push.Send(ctxT(t), 1)
		wg.Wait()
		_ = aio.Wait(ctxT(t), r)
		waitFor(t, func() bool { return n.Load() == 80 })
	}
}

// Waiters of every kind (a parked Value, further Values sharing Done, a
// Value with a context that can end, Done, callbacks) on aios that resolve
// while they come, several aios at a time: each sees its own aio's value,
// and each callback runs once. The waiters' record is pooled and reused
// from aio to aio, so a record handed back too early would show another
// aio's value or lose a wake-up.
func TestWaitersUnderRace(t *testing.T) {
	ctx := ctxT(t)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	one := func(i int) {
		a, resolve := aio.NewPending[int](nil)
		var calls atomic.Int64
		var wg sync.WaitGroup
		check := func(v int, err error) {
			if v != i || err != nil {
				t.Errorf("aio %d: got %d, %v", i, v, err)
			}
		}
		for range 3 {
			wg.Go(func() { check(a.Value(context.Background())) })
		}
		wg.Go(func() { check(a.Value(cctx)) })
		wg.Go(func() {
			select {
			case <-a.Done():
				check(a.Result())
			case <-ctx.Done():
				t.Error("Done never closed")
			}
		})
		for range 2 {
			wg.Go(func() { a.OnComplete(func(v int, err error) { check(v, err); calls.Add(1) }) })
		}
		if i%2 == 0 {
			runtime.Gosched() // let some waiters park first
		}
		resolve(i, nil)
		wg.Wait()
		if n := calls.Load(); n != 2 {
			t.Errorf("aio %d: %d callbacks ran, want 2", i, n)
		}
	}
	var workers sync.WaitGroup
	for w := range 4 {
		workers.Go(func() {
			for i := range 100 {
				one(w*1000 + i + 1)
			}
		})
	}
	workers.Wait()
}

// waitFor waits for callbacks still running on an aio's goroutine after
// Done closed.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestNilAio(t *testing.T) {
	var a *aio.Aio[int]
	if !a.Resolved() || aio.Unresolved(a) {
		t.Fatal("nil aio unresolved")
	}
	_, err := a.Value(context.Background())
	wantCode(t, err, nanoact.ErrInvalid)
	a.Stop()
	aio.Stop(a, nil)
	if _, err := a.Ref(); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(err)
	}
}

func TestCollect(t *testing.T) {
	ctx := ctxT(t)
	push, pull := pushPull(t)
	rs := make([]*aio.Aio[int], 5)
	for i := range rs {
		rs[i] = aio.Recv[int](pull)
	}
	for i := range rs {
		_ = push.Send(ctx, i*10)
	}
	vals, errs := aio.CollectAll(ctx, rs)
	if errs != nil {
		t.Fatal(errs)
	}
	slices.Sort(vals) // which aio gets which message is not ordered
	if !slices.Equal(vals, []int{0, 10, 20, 30, 40}) {
		t.Fatal(vals)
	}
	// Order and keys are kept, errors in place.
	bad := aio.Recv[int](pull, aio.Timeout(0))
	ok := aio.Recv[int](pull)
	_ = push.Send(ctx, 99)
	vals, errs = aio.CollectAll(ctx, []*aio.Aio[int]{ok, bad})
	if vals[0] != 99 || errs[0] != nil || !errors.Is(errs[1], nanoact.ErrTimedOut) {
		t.Fatal(vals, errs)
	}
	ok2 := aio.Recv[int](pull)
	_ = push.Send(ctx, 42)
	m, merrs := aio.CollectMap(ctx, map[string]*aio.Aio[int]{"ok": ok2, "bad": bad})
	if m["ok"] != 42 || merrs["ok"] != nil || !errors.Is(merrs["bad"], nanoact.ErrTimedOut) || len(m) != 2 {
		t.Fatal(m, merrs)
	}
	if v, err := aio.Collect(ctx, ok2); v != 42 || err != nil {
		t.Fatal(v, err)
	}
	// A context that ends leaves the pending ones with its error.
	pending := aio.Recv[int](pull)
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	vals, errs = aio.CollectAll(short, []*aio.Aio[int]{ok2, pending})
	if vals[0] != 42 || errs[0] != nil || !errors.Is(errs[1], nanoact.ErrTimedOut) || !errors.Is(errs[1], context.DeadlineExceeded) {
		t.Fatal(vals, errs)
	}
	if pending.Resolved() {
		t.Fatal("CollectAll's context stopped the aio")
	}
	pending.Stop()
}

func TestMixedListWaitUnresolvedStop(t *testing.T) {
	ctx := ctxT(t)
	push, pull := pushPull(t)
	lone := open(t, sockets.Push)
	r := aio.Recv[string](pull)
	s := aio.Send(lone, "nobody listens")
	list := []aio.Resolvable{r, s, nil}
	if !aio.Unresolved(list...) || aio.CountUnresolved(list...) != 2 {
		t.Fatal("expected two pending")
	}
	_ = push.Send(ctx, "x")
	if err := aio.Wait(ctx, r); err != nil {
		t.Fatal(err)
	}
	if aio.CountUnresolved(list...) != 1 {
		t.Fatal("expected one pending")
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	wantCode(t, aio.WaitAll(short, list...), nanoact.ErrTimedOut)
	aio.Stop(list...)
	if aio.Unresolved(list...) {
		t.Fatal("pending after Stop")
	}
	if err := aio.WaitAll(ctx, list...); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Result(); v != "x" || err != nil {
		t.Fatal("Stop changed a resolved aio", v, err)
	}
	_, err := s.Result()
	wantCode(t, err, nanoact.ErrCanceled)
}

func TestRace(t *testing.T) {
	ctx := ctxT(t)
	var pulls, pushes []*sockets.Socket
	for range 3 {
		push, pull := pushPull(t)
		pushes, pulls = append(pushes, push), append(pulls, pull)
	}
	rs := make([]aio.Resolvable, 3)
	typed := make([]*aio.Aio[string], 3)
	for i := range rs {
		typed[i] = aio.Recv[string](pulls[i])
		rs[i] = typed[i]
	}
	// Another waiter on the same aio, and a callback: Race must leave
	// them their wake-up.
	other := make(chan string, 1)
	go func() {
		v, _ := typed[1].Value(ctx)
		other <- v
	}()
	var cb atomic.Int32
	typed[1].OnComplete(func(string, error) { cb.Add(1) })

	_ = pushes[1].Send(ctx, "b")
	i, err := aio.Race(ctx, rs...)
	if i != 1 || err != nil {
		t.Fatal(i, err)
	}
	if v := <-other; v != "b" {
		t.Fatalf("other waiter got %q", v)
	}
	waitFor(t, func() bool { return cb.Load() == 1 })
	if v, err := typed[1].Result(); v != "b" || err != nil {
		t.Fatal(v, err)
	}
	if aio.CountUnresolved(rs...) != 2 {
		t.Fatal("Race resolved or stopped others")
	}
	// Two-aio path and the ctx path.
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if i, err := aio.Race(short, rs[0], rs[2]); i != -1 || !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatal(i, err)
	}
	if i, err := aio.Race(short, rs[0], rs[2], nil); i != -1 || !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatal(i, err)
	}
	// Lowest resolved index wins.
	_ = pushes[2].Send(ctx, "c")
	_ = aio.Wait(ctx, rs[2])
	if i, _ := aio.Race(ctx, rs[0], rs[2], rs[1]); i != 1 {
		t.Fatalf("race = %d, want 1", i)
	}
	if i, err := aio.Race(ctx); i != -1 || !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(i, err)
	}
	aio.Stop(rs...)
}

// The two halves of a request (a send aio and a receive aio on one req
// context) may be stopped or dropped in any order.
func TestRequestHalves(t *testing.T) {
	ctx := ctxT(t)
	rep := open(t, sockets.Rep)
	req := open(t, sockets.Req)
	connect(t, rep, req, "")
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			m, err := rep.Recv(context.Background())
			if err != nil {
				return
			}
			if string(m.Body) == "drop" {
				continue // never answer
			}
			// Answered through a send aio (on rep: the goroutine path),
			// waited for before the next request replaces this one.
			_, _ = aio.Send(rep, m).Value(context.Background())
		}
	}()
	orders := []struct {
		name string
		run  func(s *aio.SendAio, r *aio.Aio[[]byte])
	}{
		{"stop send then recv", func(s *aio.SendAio, r *aio.Aio[[]byte]) { s.Stop(); r.Stop() }},
		{"stop recv then send", func(s *aio.SendAio, r *aio.Aio[[]byte]) { r.Stop(); s.Stop() }},
		{"stop both at once", func(s *aio.SendAio, r *aio.Aio[[]byte]) { aio.Stop(r, s) }},
		{"drop send", func(s *aio.SendAio, r *aio.Aio[[]byte]) { r.Stop() }},
		{"drop recv", func(s *aio.SendAio, r *aio.Aio[[]byte]) { s.Stop() }},
		{"drop both", func(*aio.SendAio, *aio.Aio[[]byte]) {}},
	}
	for _, o := range orders {
		for _, body := range []string{"echo", "drop"} {
			t.Run(o.name+"/"+body, func(t *testing.T) {
				c, err := req.Context()
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close() // aborts whatever is left
				s := aio.Send(c, []byte(body), aio.Mode(sockets.Raw))
				r := aio.Recv[[]byte](c, aio.Mode(sockets.Raw), aio.Timeout(time.Second))
				o.run(s, r)
				if body == "echo" {
					if v, err := r.Value(ctx); err == nil && string(v) != "echo" {
						t.Fatalf("reply %q", v)
					}
				}
			})
		}
	}
	// A plain request still works afterwards.
	c, _ := req.Context()
	defer c.Close()
	aio.Send(c, []byte("echo"), aio.Mode(sockets.Raw))
	if v, err := aio.Recv[[]byte](c, aio.Mode(sockets.Raw)).Value(ctx); err != nil || string(v) != "echo" {
		t.Fatal(v, err)
	}
	_ = rep.Close()
	<-served
}

func TestReqRepRoundTrip(t *testing.T) {
	ctx := ctxT(t)
	rep := open(t, sockets.Rep)
	req := open(t, sockets.Req)
	connect(t, rep, req, "")
	for i := range 20 {
		if _, err := aio.Send(req, i).Value(ctx); err != nil {
			t.Fatal(err)
		}
		q := aio.Recv[int](rep)
		v, err := q.Value(ctx)
		if err != nil || v != i {
			t.Fatal(v, err)
		}
		if _, err := aio.Send(rep, v*2).Value(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := aio.Recv[int](req).Value(ctx); err != nil || got != 2*i {
			t.Fatal(got, err)
		}
	}
	// A req receive with no request outstanding.
	_, err := aio.Recv[int](req).Value(ctx)
	wantCode(t, err, nanoact.ErrState)
}

// 10,000 aios in flight at once on one socket, each signalling one CV.
func TestTenThousandInFlight(t *testing.T) {
	const n = 10_000
	ctx := ctxT(t)
	push, pull := pushPull(t)
	cv := aio.NewCV()
	rs := make([]*aio.Aio[int], n)
	for i := range rs {
		rs[i] = aio.Recv[int](pull, aio.Signal(cv))
	}
	sends := make([]aio.Resolvable, n)
	for i := range n {
		sends[i] = aio.Send(push, i)
	}
	if err := aio.WaitAll(ctx, sends...); err != nil {
		t.Fatal(err)
	}
	vals, errs := aio.CollectAll(ctx, rs)
	if errs != nil {
		t.Fatal(errors.Join(errs...))
	}
	slices.Sort(vals)
	for i, v := range vals {
		if v != i {
			t.Fatalf("vals[%d] = %d", i, v)
		}
	}
	if cv.Value() != n {
		t.Fatalf("cv = %d, want %d", cv.Value(), n)
	}
}

// Closing a socket resolves every aio pending on it with ErrClosed, and
// leaves no goroutine behind (goleak in TestMain).
func TestCloseResolvesPending(t *testing.T) {
	pull := open(t, sockets.Pull)
	push := open(t, sockets.Push)
	cv := aio.NewCV()
	rs := make([]aio.Resolvable, 100)
	for i := range rs {
		if i%2 == 0 {
			rs[i] = aio.Recv[int](pull, aio.Signal(cv))
		} else {
			rs[i] = aio.Send(push, i, aio.Signal(cv))
		}
	}
	_ = pull.Close()
	_ = push.Close()
	if err := aio.WaitAll(ctxT(t), rs...); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		var err error
		switch a := r.(type) {
		case *aio.Aio[int]:
			_, err = a.Result()
		case *aio.SendAio:
			_, err = a.Result()
		}
		wantCode(t, err, nanoact.ErrClosed)
	}
	if cv.Value() != len(rs) {
		t.Fatal(cv.Value())
	}
}

func TestPromise(t *testing.T) {
	ctx := ctxT(t)
	push, pull := pushPull(t)
	p := aio.Promise(aio.Recv[string](pull), nil)
	_ = push.Send(ctx, "kept")
	if v, err := p.Await(ctx); v != "kept" || err != nil {
		t.Fatal(v, err)
	}
	q := aio.Promise(aio.Recv[string](pull, aio.Timeout(time.Millisecond)), nil)
	_, err := q.Await(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if !strings.Contains(err.Error(), "5 | Timed out") {
		t.Fatalf("rejection text %q", err)
	}
	s := aio.Promise(aio.Send(push, 1), nil)
	if _, err := s.Await(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = sockets.RecvAs[int](ctx, pull)
}

// A req Recv started while its Send is still waiting for a peer waits for
// that Send (as NNG's send registers the request at once) instead of
// failing with ErrState.
func TestReqRecvWaitsForPendingSend(t *testing.T) {
	ctx := ctxT(t)
	req := open(t, sockets.Req)
	s := aio.Send(req, "ping") // no peer yet: the send has to wait
	r := aio.Recv[string](req)
	if s.Resolved() || r.Resolved() {
		t.Fatal("resolved with no peer")
	}
	rep := open(t, sockets.Rep)
	connect(t, rep, req, "")
	q, err := aio.Recv[string](rep).Value(ctx)
	if err != nil || q != "ping" {
		t.Fatal(q, err)
	}
	aio.Send(rep, q+" pong")
	if v, err := r.Value(ctx); v != "ping pong" || err != nil {
		t.Fatal(v, err)
	}
	// The send's aio may resolve after the reply's (its goroutine
	// resolves it once the request is queued): wait for it.
	if _, err := s.Value(ctx); err != nil {
		t.Fatal(err)
	}
	// A second request cancels a send still waiting, as in NNG.
	lone := open(t, sockets.Req)
	first := aio.Send(lone, 1)
	second := aio.Send(lone, 2)
	_, err = first.Value(ctx)
	wantCode(t, err, nanoact.ErrCanceled)
	second.Stop()
}

// A rep server that answers with a send aio and asks for the next request
// at once, without waiting for the send: every reply still reaches the
// requester it answers.
func TestRepRepliesKeepOrder(t *testing.T) {
	ctx := ctxT(t)
	rep := open(t, sockets.Rep)
	url := inprocURL()
	if _, err := rep.Listen(url); err != nil {
		t.Fatal(err)
	}
	const clients, rounds = 4, 25
	reqs := make([]*sockets.Socket, clients)
	for i := range reqs {
		reqs[i] = open(t, sockets.Req)
		dialTo(t, rep, reqs[i], url)
	}
	stop := make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			r := aio.Recv[int](rep)
			select {
			case <-r.Done():
			case <-stop:
				r.Stop()
				return
			}
			q, err := r.Result()
			if err != nil {
				return
			}
			aio.Send(rep, q*10) // not waited for
		}
	}()
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() {
			for j := range rounds {
				q := i*1000 + j
				aio.Send(req, q)
				v, err := aio.Recv[int](req).Value(ctx)
				if err != nil || v != q*10 {
					t.Errorf("client %d: %d, %v; want %d", i, v, err, q*10)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-served
}

// A callback may close the socket its aio received on, although it runs
// on the goroutine that read the message.
func TestCallbackClosesSocket(t *testing.T) {
	push, pull := open(t, sockets.Push), open(t, sockets.Pull)
	connect(t, pull, push, "")
	r := aio.Recv[[]byte](pull, aio.Mode(sockets.Raw))
	closed := make(chan error, 1)
	r.OnComplete(func([]byte, error) { closed <- pull.Close() })
	if err := push.Send(context.Background(), []byte("x"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close from a callback did not return")
	}
}

// RecvFunc resolves to what its function makes of the message; the
// function is not called when the receive fails, and its panic becomes
// the aio's ErrInternal.
func TestRecvFunc(t *testing.T) {
	push, pull := pushPull(t)
	ctx := ctxT(t)
	length := func(m *sockets.Msg) (int, error) {
		defer m.Free()
		if len(m.Body) == 0 {
			return 0, errors.New("empty")
		}
		return len(m.Body), nil
	}
	a := aio.RecvFunc(pull, length)
	if err := push.Send(ctx, []byte("four"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Value(ctx); err != nil || n != 4 || a.Pipe() == 0 {
		t.Fatalf("%d %v pipe %d", n, err, a.Pipe())
	}

	b := aio.RecvFunc(pull, length)
	if err := push.Send(ctx, []byte{}, sockets.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Value(ctx); err == nil || err.Error() != "empty" {
		t.Fatalf("function's error: %v", err)
	}

	called := false
	c := aio.RecvFunc(pull, func(m *sockets.Msg) (int, error) { called = true; return 0, nil }, aio.Timeout(10*time.Millisecond))
	_, err := c.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if called {
		t.Fatal("function called for a failed receive")
	}

	d := aio.RecvFunc(pull, func(*sockets.Msg) (int, error) { panic("boom") })
	if err := push.Send(ctx, []byte("x"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	_, err = d.Value(ctx)
	wantCode(t, err, nanoact.ErrInternal)

	_, err = aio.RecvFunc[int](pull, nil).Value(ctx)
	wantCode(t, err, nanoact.ErrInvalid)
}
