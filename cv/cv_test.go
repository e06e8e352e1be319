package cv_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/cv"
)

func TestCVUntilNeverSignalled(t *testing.T) {
	c := cv.New()
	start := time.Now()
	if c.Until(20 * time.Millisecond) {
		t.Fatal("Until true on a CV never signalled")
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("Until returned early")
	}
	if c.Until(0) || c.Until(-time.Second) {
		t.Fatal("Until(<=0) true on a CV never signalled")
	}
	var zero cv.CV // the zero value works too
	if zero.Until(time.Millisecond) {
		t.Fatal("zero CV signalled")
	}
}

func TestCVSignalWaitValueReset(t *testing.T) {
	ctx := ctxT(t)
	c := cv.New()
	c.Signal()
	c.Signal()
	if c.Value() != 2 {
		t.Fatal(c.Value())
	}
	if !c.Wait(ctx) || !c.Until(time.Second) {
		t.Fatal("Wait or Until false with counts")
	}
	if c.Value() != 0 {
		t.Fatal(c.Value())
	}
	// Wait gives up with ctx, taking nothing.
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if c.Wait(short) {
		t.Fatal("Wait true with nothing to take")
	}
	// Raise: the flag makes Wait false until Reset; Until ignores it.
	c.Raise()
	if c.Wait(ctx) {
		t.Fatal("Wait true after Raise")
	}
	c.Signal()
	if c.Wait(ctx) {
		t.Fatal("Wait true with the flag still raised")
	}
	c.Signal()
	if !c.Until(time.Second) {
		t.Fatal("Until does not ignore the flag")
	}
	c.Signal()
	c.Reset()
	if c.Value() != 0 {
		t.Fatal("Reset kept the counter")
	}
	c.Signal()
	if !c.Wait(ctx) {
		t.Fatal("Reset kept the flag")
	}
}

func TestCVWakesEveryWaiter(t *testing.T) {
	ctx := ctxT(t)
	c := cv.New()
	const n = 20
	var wg sync.WaitGroup
	results := make(chan bool, n)
	for range n {
		wg.Go(func() { results <- c.Wait(ctx) })
	}
	for range n {
		c.Signal()
	}
	wg.Wait()
	close(results)
	for ok := range results {
		if !ok {
			t.Fatal("a waiter got false")
		}
	}
	if c.Value() != 0 {
		t.Fatal(c.Value())
	}
}

func TestCVClose(t *testing.T) {
	c := cv.New()
	done := make(chan bool)
	go func() { done <- c.Wait(context.Background()) }()
	go func() { done <- c.Until(time.Hour) }()
	// Let the waiters block, if they are quick; Close must wake them
	// either way.
	_ = c.Close()
	if <-done || <-done {
		t.Fatal("waiter true after Close")
	}
	c.Signal()
	if c.Value() != 0 || c.Wait(context.Background()) {
		t.Fatal("closed CV counted a signal")
	}
	if err := c.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
}

func TestCVForward(t *testing.T) {
	a, b, c := cv.New(), cv.New(), cv.New()
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
	d := cv.New()
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
	e := cv.New()
	_, _ = a.Forward(e)
	_ = a.Close()
	a.Signal()
	if e.Value() != 0 {
		t.Fatal("closed source forwarded")
	}
}

func TestBroadcaster(t *testing.T) {
	ctx := ctxT(t)
	var b cv.Broadcaster
	x, y := cv.New(), cv.New()
	unX := b.Register(x)
	b.Register(y)
	if b.Len() != 2 {
		t.Fatal(b.Len())
	}
	// A normal stop is a plain signal: Wait true, no failure, Last says
	// what it was.
	b.Broadcast(cv.Event{Kind: cv.Stopped, Child: "w1"})
	if !x.Wait(ctx) || !y.Wait(ctx) {
		t.Fatal("Stopped made Wait false")
	}
	if x.Err() != nil || x.Last() != (cv.Event{Kind: cv.Stopped, Child: "w1"}) {
		t.Fatal(x.Err(), x.Last())
	}
	// A failure raises: Wait false, Err the cause, until Reset.
	boom := errors.New("boom")
	b.Broadcast(cv.Event{Kind: cv.Failed, Child: "w2", Err: boom})
	if x.Wait(ctx) || y.Wait(ctx) {
		t.Fatal("Failed did not make Wait false")
	}
	if !errors.Is(x.Err(), boom) || x.Last().Kind != cv.Failed || x.Last().Child != "w2" {
		t.Fatal(x.Err(), x.Last())
	}
	// A later normal event keeps the failure and the flag.
	b.Broadcast(cv.Event{Kind: cv.Restarted, Child: "w2"})
	if x.Wait(ctx) || !errors.Is(x.Err(), boom) || x.Last().Kind != cv.Restarted {
		t.Fatal("a restart hid the failure", x.Err(), x.Last())
	}
	x.Reset()
	y.Reset()
	if x.Err() != nil || x.Last() != (cv.Event{}) {
		t.Fatal("Reset kept the failure", x.Err(), x.Last())
	}
	// A failure without a cause gets ErrInternal; a normal event drops a
	// stray Err.
	b.Broadcast(cv.Event{Kind: cv.Failed})
	if !errors.Is(x.Err(), nanoact.ErrInternal) {
		t.Fatal(x.Err())
	}
	x.Reset()
	b.Broadcast(cv.Event{Kind: cv.Up, Err: boom})
	if x.Err() != nil || x.Last().Err != nil {
		t.Fatal("Up carried an error")
	}
	x.Reset()
	y.Reset()
	unX()
	unX()
	b.Broadcast(cv.Event{Kind: cv.Up})
	if x.Value() != 0 || y.Value() != 1 {
		t.Fatal("unregister")
	}
	// A waiter blocked on a supervised CV wakes when the supervisor
	// closes, with the Closed event: a normal stop, not a failure.
	y.Reset()
	woke := make(chan bool)
	go func() { woke <- y.Wait(context.Background()) }()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !<-woke || y.Err() != nil || y.Last().Kind != cv.Closed {
		t.Fatal("Close was not a normal stop", y.Err(), y.Last())
	}
	late := cv.New()
	b.Register(late)
	if !late.Until(0) || late.Last().Kind != cv.Closed {
		t.Fatal("Register on a closed Broadcaster did not deliver Closed")
	}
	b.Broadcast(cv.Event{Kind: cv.Up})
	if late.Value() != 0 || y.Value() != 0 {
		t.Fatal("Broadcast after Close reached a CV")
	}
	if err := b.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
	// Closed CVs are dropped.
	var b2 cv.Broadcaster
	z := cv.New()
	b2.Register(z)
	_ = z.Close()
	b2.Broadcast(cv.Event{Kind: cv.Up})
	if b2.Len() != 0 {
		t.Fatal("closed CV kept")
	}
}

// Broadcast events reach the CVs forwarded to as plain signals; the
// failure stays with the registered CV.
func TestBroadcasterForwarded(t *testing.T) {
	ctx := ctxT(t)
	var b cv.Broadcaster
	defer b.Close()
	src, dst := cv.New(), cv.New()
	if _, err := src.Forward(dst); err != nil {
		t.Fatal(err)
	}
	b.Register(src)
	b.Broadcast(cv.Event{Kind: cv.Failed, Err: errors.New("x")})
	if src.Wait(ctx) || !dst.Wait(ctx) || dst.Err() != nil {
		t.Fatal("forwarded failure", dst.Err())
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[cv.Kind]string{0: "none", cv.Up: "up", cv.Stopped: "stopped",
		cv.Restarted: "restarted", cv.Failed: "failed", cv.Closed: "closed", 42: "kind(42)"} {
		if k.String() != want {
			t.Errorf("%d: %q, want %q", k, k.String(), want)
		}
	}
}

// A supervisor wired to a Broadcaster: a waiter on a registered CV wakes
// with false and the panic as the cause when a child fails, and with true
// when a child stops.
func TestBroadcasterFromSupervisor(t *testing.T) {
	ctx := ctxT(t)
	sys := actor.NewSystem()
	defer sys.Close()
	var b cv.Broadcaster
	defer b.Close()
	children := make(chan *actor.Ref, 1)
	parent, err := sys.Spawn("", actor.ReceiveFunc(func(c *actor.Context) {
		switch m := c.Message().(type) {
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
			b.Broadcast(cv.Event{Kind: cv.Failed, Child: m.Child.String(), Err: m.Reason})
		case actor.ChildStopped:
			b.Broadcast(cv.Event{Kind: cv.Stopped, Child: m.Child.String()})
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	child := <-children
	c := cv.New()
	b.Register(c)
	woke := make(chan bool)
	go func() { woke <- c.Wait(ctx) }()
	child.Send("crash")
	if <-woke {
		t.Fatal("Wait true after a child failed")
	}
	var p *actor.Panic
	if !errors.As(c.Err(), &p) || p.Value != "worker crashed" {
		t.Fatal("cause", c.Err())
	}
	c.Reset()
	go func() { woke <- c.Wait(ctx) }()
	if err := child.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !<-woke || c.Err() != nil || c.Last().Kind != cv.Stopped {
		t.Fatal("a normal stop seen as a failure", c.Err(), c.Last())
	}
	_ = parent.Stop(ctx)
}

// SignalAll signals each CV once, duplicates and nils aside, and runs mark
// with every lock held: a waiter woken by the signal sees mark's effect.
func TestSignalAll(t *testing.T) {
	ctx := ctxT(t)
	a, b := cv.New(), cv.New()
	var marked atomic.Bool
	seen := make(chan bool)
	go func() {
		b.Wait(ctx)
		seen <- marked.Load()
	}()
	cv.SignalAll(func() { marked.Store(true) }, a, b, a, nil)
	if !<-seen {
		t.Fatal("woke before mark ran")
	}
	if a.Value() != 1 || b.Value() != 0 {
		t.Fatalf("a=%d b=%d", a.Value(), b.Value())
	}
	cv.SignalAll(nil, a)
	if a.Value() != 2 {
		t.Fatal(a.Value())
	}
}

// Arm makes the next Notify raise the flag; without it Notify is a plain
// signal; Arm(false) clears a raised flag.
func TestArmNotify(t *testing.T) {
	ctx := ctxT(t)
	c := cv.New()
	c.Notify()
	if !c.Wait(ctx) {
		t.Fatal("unarmed Notify raised")
	}
	c.Arm(true)
	c.Notify()
	if c.Wait(ctx) || c.Err() != nil {
		t.Fatal("armed Notify did not raise, or recorded a failure")
	}
	c.Arm(false)
	c.Signal()
	if !c.Wait(ctx) {
		t.Fatal("Arm(false) kept the flag")
	}
}
