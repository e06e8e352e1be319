package aio_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

func TestCVUntilNeverSignalled(t *testing.T) {
	cv := aio.NewCV()
	start := time.Now()
	if cv.Until(20 * time.Millisecond) {
		t.Fatal("Until true on a CV never signalled")
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("Until returned early")
	}
	if cv.Until(0) || cv.Until(-time.Second) {
		t.Fatal("Until(<=0) true on a CV never signalled")
	}
	var zero aio.CV // the zero value works too
	if zero.Until(time.Millisecond) {
		t.Fatal("zero CV signalled")
	}
}

func TestCVSignalWaitValueReset(t *testing.T) {
	ctx := ctxT(t)
	cv := aio.NewCV()
	cv.Signal()
	cv.Signal()
	if cv.Value() != 2 {
		t.Fatal(cv.Value())
	}
	if !cv.Wait(ctx) || !cv.Until(time.Second) {
		t.Fatal("Wait or Until false with counts")
	}
	if cv.Value() != 0 {
		t.Fatal(cv.Value())
	}
	// Wait gives up with ctx, taking nothing.
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if cv.Wait(short) {
		t.Fatal("Wait true with nothing to take")
	}
	// Raise: the flag makes Wait false until Reset; Until ignores it.
	cv.Raise()
	if cv.Wait(ctx) {
		t.Fatal("Wait true after Raise")
	}
	cv.Signal()
	if cv.Wait(ctx) {
		t.Fatal("Wait true with the flag still raised")
	}
	cv.Signal()
	if !cv.Until(time.Second) {
		t.Fatal("Until does not ignore the flag")
	}
	cv.Signal()
	cv.Reset()
	if cv.Value() != 0 {
		t.Fatal("Reset kept the counter")
	}
	cv.Signal()
	if !cv.Wait(ctx) {
		t.Fatal("Reset kept the flag")
	}
}

func TestCVWakesEveryWaiter(t *testing.T) {
	ctx := ctxT(t)
	cv := aio.NewCV()
	const n = 20
	var wg sync.WaitGroup
	results := make(chan bool, n)
	for range n {
		wg.Go(func() { results <- cv.Wait(ctx) })
	}
	for range n {
		cv.Signal()
	}
	wg.Wait()
	close(results)
	for ok := range results {
		if !ok {
			t.Fatal("a waiter got false")
		}
	}
	if cv.Value() != 0 {
		t.Fatal(cv.Value())
	}
}

func TestCVClose(t *testing.T) {
	cv := aio.NewCV()
	done := make(chan bool)
	go func() { done <- cv.Wait(context.Background()) }()
	go func() { done <- cv.Until(time.Hour) }()
	// Let the waiters block, if they are quick; Close must wake them
	// either way.
	_ = cv.Close()
	if <-done || <-done {
		t.Fatal("waiter true after Close")
	}
	cv.Signal()
	if cv.Value() != 0 || cv.Wait(context.Background()) {
		t.Fatal("closed CV counted a signal")
	}
	if err := cv.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
}

// An aio signals its CV on every kind of completion, once: a CV shared by
// many aios ends at exactly their number.
func TestCVCountedByManyAios(t *testing.T) {
	ctx := ctxT(t)
	push, pull := pushPull(t)
	lone := open(t, sockets.Push)     // no peer: sends wait
	lonePull := open(t, sockets.Pull) // no peer: receives wait
	cv := aio.NewCV()
	var all []aio.Resolvable
	for range 40 { // succeed
		all = append(all, aio.Recv[int](pull, aio.Signal(cv)))
	}
	for range 20 { // time out
		all = append(all, aio.Recv[int](lonePull, aio.Signal(cv), aio.Timeout(time.Millisecond)))
	}
	for range 10 { // time out at once
		all = append(all, aio.Send(lone, 1, aio.Signal(cv), aio.Timeout(0)))
	}
	var stopped []aio.Resolvable
	for range 30 { // cancelled
		s := aio.Send(lone, 1, aio.Signal(cv))
		stopped = append(stopped, s)
		all = append(all, s)
	}
	for i := range 40 {
		all = append(all, aio.Send(push, i, aio.Signal(cv))) // succeed
	}
	aio.Stop(stopped...)
	if err := aio.WaitAll(ctx, all...); err != nil {
		t.Fatal(err)
	}
	if cv.Value() != len(all) {
		t.Fatalf("cv = %d, want %d", cv.Value(), len(all))
	}
	for range all {
		if !cv.Wait(ctx) {
			t.Fatal("Wait false")
		}
	}
	if cv.Until(0) {
		t.Fatal("a count too many")
	}
}

func TestCVForward(t *testing.T) {
	a, b, c := aio.NewCV(), aio.NewCV(), aio.NewCV()
	stopAB, err := a.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Forward(c); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		a.Signal()
	}
	if a.Value() != 5 || b.Value() != 5 || c.Value() != 5 {
		t.Fatalf("a=%d b=%d c=%d, want 5 each", a.Value(), b.Value(), c.Value())
	}
	// Every signal counts even with a waiter taking from the source.
	a.Reset()
	b.Reset()
	c.Reset()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			a.Wait(context.Background())
		}
	}()
	for range 100 {
		a.Signal()
	}
	<-done
	if b.Value() != 100 || c.Value() != 100 {
		t.Fatalf("b=%d c=%d, want 100", b.Value(), c.Value())
	}
	// Cycles are refused, self and nil too.
	if _, err := c.Forward(a); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal("cycle accepted", err)
	}
	if _, err := a.Forward(a); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := a.Forward(nil); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(err)
	}
	// stop ends it; a later Forward replaces, and the old stop does not
	// remove the new one.
	stopAB()
	stopAB()
	b.Reset()
	a.Signal()
	if b.Value() != 0 {
		t.Fatal("forwarded after stop")
	}
	d := aio.NewCV()
	_, _ = a.Forward(b)
	stopAD, _ := a.Forward(d)
	stopAB()
	a.Signal()
	if b.Value() != 0 || d.Value() != 1 {
		t.Fatalf("b=%d d=%d", b.Value(), d.Value())
	}
	// Closing the target stops forwarding; so does closing the source.
	_ = d.Close()
	a.Signal()
	if _, err := a.Forward(d); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
	stopAD()
	e := aio.NewCV()
	_, _ = a.Forward(e)
	_ = a.Close()
	a.Signal()
	if e.Value() != 0 {
		t.Fatal("closed source forwarded")
	}
}

func TestBroadcaster(t *testing.T) {
	ctx := ctxT(t)
	var b aio.Broadcaster
	x, y := aio.NewCV(), aio.NewCV()
	unX := b.Register(x)
	b.Register(y)
	if b.Len() != 2 {
		t.Fatal(b.Len())
	}
	b.Signal()
	if !x.Wait(ctx) || !y.Wait(ctx) {
		t.Fatal("Signal made Wait false")
	}
	b.Fail()
	if x.Wait(ctx) || y.Wait(ctx) {
		t.Fatal("Fail did not make Wait false")
	}
	x.Reset()
	y.Reset()
	unX()
	unX()
	b.Signal()
	if x.Value() != 0 || y.Value() != 1 {
		t.Fatal("unregister")
	}
	// A waiter blocked on a supervised CV wakes when the supervisor
	// closes.
	y.Reset()
	woke := make(chan bool)
	go func() { woke <- y.Wait(context.Background()) }()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if <-woke {
		t.Fatal("Wait true after the supervisor closed")
	}
	late := aio.NewCV()
	b.Register(late)
	if late.Wait(ctx) {
		t.Fatal("Register on a closed Broadcaster did not raise")
	}
	if err := b.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
	// Closed CVs are dropped.
	var b2 aio.Broadcaster
	z := aio.NewCV()
	b2.Register(z)
	_ = z.Close()
	b2.Signal()
	if b2.Len() != 0 {
		t.Fatal("closed CV kept")
	}
}

// A supervisor wired to a Broadcaster: a waiter on a registered CV wakes
// with false when a child fails, and with true when a child stops.
func TestBroadcasterFromSupervisor(t *testing.T) {
	ctx := ctxT(t)
	sys := actor.NewSystem()
	defer sys.Close()
	var b aio.Broadcaster
	defer b.Close()
	children := make(chan *actor.Ref, 1)
	parent, err := sys.Spawn("", actor.ReceiveFunc(func(c *actor.Context) {
		switch c.Message().(type) {
		case actor.Started:
			child, err := c.Spawn("worker", actor.ReceiveFunc(func(c *actor.Context) {
				if c.Message() == "crash" {
					panic("worker crashed")
				}
			}))
			if err != nil {
				panic(err)
			}
			children <- child
		case actor.ChildFailed:
			b.Fail()
		case actor.ChildStopped:
			b.Signal()
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	child := <-children
	cv := aio.NewCV()
	b.Register(cv)
	woke := make(chan bool)
	go func() { woke <- cv.Wait(ctx) }()
	child.Send("crash")
	if <-woke {
		t.Fatal("Wait true after a child failed")
	}
	cv.Reset()
	go func() { woke <- cv.Wait(ctx) }()
	if err := child.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !<-woke {
		t.Fatal("Wait false after a child stopped")
	}
	_ = parent.Stop(ctx)
}
