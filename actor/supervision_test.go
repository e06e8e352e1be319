package actor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
)

// worker panics on "boom" and counts its lifecycle; its counters survive
// restarts because a restart keeps the Receiver value.
type worker struct {
	n, started, restarting int
	events                 chan<- any
}

func (w *worker) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		w.started++
	case actor.Restarting:
		w.restarting++
		if w.events != nil {
			w.events <- fmt.Sprintf("%v restarting", c.Self())
		}
	case string:
		switch m {
		case "boom":
			panic("boom")
		case "boom-err":
			panic(io.ErrUnexpectedEOF)
		case "inc":
			w.n++
		case "ping":
			c.Respond("pong")
		case "stats":
			c.Respond([3]int{w.n, w.started, w.restarting})
		}
	}
}

// supervisor spawns kids workers with its Strategy and reports ChildFailed
// and ChildStopped on events. "kids" answers with the children.
type supervisor struct {
	kids   int
	events chan<- any
	grand  []actor.SpawnOption // when set, kids are supervisors of one worker each
	refs   []*actor.Ref
}

func (s *supervisor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		s.refs = s.refs[:0]
		for i := range s.kids {
			var r actor.Receiver = &worker{events: s.events}
			var opts []actor.SpawnOption
			if s.grand != nil {
				r = &supervisor{kids: 1, events: s.events}
				opts = s.grand
			}
			ref, err := c.Spawn(fmt.Sprint("w", i), r, opts...)
			if err != nil {
				panic(err)
			}
			s.refs = append(s.refs, ref)
		}
	case actor.ChildFailed:
		s.events <- m
	case actor.ChildStopped:
		s.events <- m
	case string:
		if m == "kids" {
			c.Respond(append([]*actor.Ref(nil), s.refs...))
		}
	}
}

func startSupervised(t *testing.T, s *actor.System, kids int, opts ...actor.SpawnOption) (*actor.Ref, []*actor.Ref, chan any) {
	t.Helper()
	events := make(chan any, 64)
	p := spawn(t, s, "", &supervisor{kids: kids, events: events}, opts...)
	refs, err := actor.RequestAs[[]*actor.Ref](testCtx(t), p, "kids")
	if err != nil {
		t.Fatal(err)
	}
	return p, refs, events
}

func stats(t *testing.T, r *actor.Ref) [3]int {
	t.Helper()
	v, err := actor.RequestAs[[3]int](testCtx(t), r, "stats")
	if err != nil {
		t.Fatalf("stats of %v: %v", r, err)
	}
	return v
}

func nextFailure(t *testing.T, events <-chan any) actor.ChildFailed {
	t.Helper()
	for e := range events {
		if f, ok := e.(actor.ChildFailed); ok {
			return f
		}
	}
	t.Fatal("events closed")
	return actor.ChildFailed{}
}

func TestRestartKeepsServing(t *testing.T) {
	s := newSystem(t)
	ctx := testCtx(t)
	_, kids, events := startSupervised(t, s, 1,
		actor.WithSupervisor(actor.OneForOne(3, time.Minute, nil)))
	w := kids[0]
	w.Send("inc")

	_, err := w.Request(ctx, "boom")
	var p *actor.Panic
	if !errors.Is(err, nanoact.ErrInternal) || !errors.As(err, &p) || p.Value != "boom" || len(p.Stack) == 0 {
		t.Fatalf("Request(boom) = %v, want ErrInternal wrapping *Panic(boom) with stack", err)
	}
	f := nextFailure(t, events)
	if f.Child != w || f.Directive != actor.Restart || f.Reason.Value != "boom" {
		t.Errorf("ChildFailed = %+v, want child %v restarted for boom", f, w)
	}
	if got, err := w.Request(ctx, "ping"); err != nil || got != "pong" {
		t.Fatalf("after restart: %v, %v", got, err)
	}
	// Same Receiver value: the count survives, Started came twice.
	if st := stats(t, w); st != [3]int{1, 2, 1} {
		t.Errorf("n, started, restarting = %v, want [1 2 1]", st)
	}

	// A panic inside Call is supervised the same way.
	err = w.Call(ctx, func() { panic(io.EOF) })
	if !errors.Is(err, nanoact.ErrInternal) || !errors.Is(err, io.EOF) {
		t.Fatalf("Call panic = %v, want ErrInternal wrapping io.EOF", err)
	}
	if f := nextFailure(t, events); !errors.Is(f.Reason, io.EOF) {
		t.Errorf("ChildFailed reason = %v, want io.EOF", f.Reason)
	}
	if err := w.Call(ctx, func() {}); err != nil {
		t.Errorf("Call after restart: %v", err)
	}
}

func TestRetriesExhaustedStops(t *testing.T) {
	s := newSystem(t)
	ctx := testCtx(t)
	_, kids, events := startSupervised(t, s, 1,
		actor.WithSupervisor(actor.OneForOne(1, 0, nil)))
	w := kids[0]
	w.Send("boom")
	if f := nextFailure(t, events); f.Directive != actor.Restart {
		t.Errorf("first failure: %v, want restart", f.Directive)
	}
	w.Send("boom")
	if f := nextFailure(t, events); f.Directive != actor.Stop {
		t.Errorf("second failure: %v, want stop", f.Directive)
	}
	for e := range events {
		if cs, ok := e.(actor.ChildStopped); ok {
			if cs.Child != w {
				t.Errorf("ChildStopped for %v, want %v", cs.Child, w)
			}
			break
		}
	}
	<-w.Done()
	if _, err := w.Request(ctx, "ping"); !errors.Is(err, nanoact.ErrClosed) {
		t.Errorf("Request to stopped child = %v, want ErrClosed", err)
	}
}

func TestResumeKeepsState(t *testing.T) {
	s := newSystem(t)
	_, kids, events := startSupervised(t, s, 1, actor.WithSupervisor(actor.OneForOne(-1, 0,
		func(p *actor.Panic) actor.Directive {
			if errors.Is(p, io.ErrUnexpectedEOF) {
				return actor.Resume
			}
			return actor.Restart
		})))
	w := kids[0]
	w.Send("inc")
	w.Send("boom-err")
	w.Send("inc")
	if f := nextFailure(t, events); f.Directive != actor.Resume {
		t.Errorf("directive = %v, want resume", f.Directive)
	}
	if st := stats(t, w); st != [3]int{2, 1, 0} {
		t.Errorf("n, started, restarting = %v, want [2 1 0]", st)
	}
}

func TestAllForOneRestartsSiblings(t *testing.T) {
	s := newSystem(t)
	_, kids, events := startSupervised(t, s, 2,
		actor.WithSupervisor(actor.AllForOne(5, time.Minute, nil)))
	kids[0].Send("boom")
	if f := nextFailure(t, events); f.Child != kids[0] || f.Directive != actor.Restart {
		t.Errorf("ChildFailed = %+v", f)
	}
	for _, k := range kids {
		if st := stats(t, k); st[1] != 2 || st[2] != 1 {
			t.Errorf("%v: started, restarting = %d, %d; want 2, 1", k, st[1], st[2])
		}
	}
}

// A grandchild's failure escalated by its supervisor reaches the top.
func TestEscalate(t *testing.T) {
	s := newSystem(t)
	ctx := testCtx(t)
	events := make(chan any, 64)
	top := spawn(t, s, "top", &supervisor{kids: 1, events: events,
		grand: []actor.SpawnOption{actor.WithSupervisor(actor.OneForOne(5, time.Minute,
			func(*actor.Panic) actor.Directive { return actor.Escalate }))}},
		actor.WithSupervisor(actor.OneForOne(5, time.Minute, nil)))
	mids, err := actor.RequestAs[[]*actor.Ref](ctx, top, "kids")
	if err != nil {
		t.Fatal(err)
	}
	grands, err := actor.RequestAs[[]*actor.Ref](ctx, mids[0], "kids")
	if err != nil {
		t.Fatal(err)
	}
	grands[0].Send("boom")
	// The middle supervisor reports the escalation and the top one
	// restarts the middle (which stops the old grandchild), in either
	// order.
	byChild := map[*actor.Ref]actor.ChildFailed{}
	for range 2 {
		f := nextFailure(t, events)
		byChild[f.Child] = f
	}
	f1, f2 := byChild[grands[0]], byChild[mids[0]]
	if f1.Directive != actor.Escalate || f1.Reason == nil || f1.Reason.Value != "boom" {
		t.Errorf("grandchild failure = %+v, want escalate of boom", f1)
	}
	if f2.Directive != actor.Restart || f2.Reason != f1.Reason {
		t.Errorf("middle failure = %+v, want restart with the same reason", f2)
	}
	<-grands[0].Done()
	regrown, err := actor.RequestAs[[]*actor.Ref](ctx, mids[0], "kids")
	if err != nil || len(regrown) != 1 || regrown[0] == grands[0] {
		t.Fatalf("after restart the middle has %v, %v", regrown, err)
	}
	if v, err := regrown[0].Request(ctx, "ping"); err != nil || v != "pong" {
		t.Errorf("new grandchild: %v, %v", v, err)
	}
}

func TestBackoffRestart(t *testing.T) {
	s := newSystem(t)
	ctx := testCtx(t)
	_, kids, events := startSupervised(t, s, 1, actor.WithSupervisor(
		actor.OneForOne(5, time.Minute, nil).WithBackoff(time.Millisecond, 10*time.Millisecond)))
	w := kids[0]
	for range 3 {
		w.Send("boom")
		if f := nextFailure(t, events); f.Directive != actor.Restart {
			t.Fatalf("directive %v", f.Directive)
		}
	}
	// Requests queue while the child waits for its restart.
	if v, err := w.Request(ctx, "ping"); err != nil || v != "pong" {
		t.Fatalf("after back-off: %v, %v", v, err)
	}
	if st := stats(t, w); st[1] != 4 {
		t.Errorf("started %d times, want 4", st[1])
	}
}

// Close cancels a pending back-off restart instead of waiting for it.
func TestCloseDuringBackoff(t *testing.T) {
	s := actor.NewSystem()
	_, kids, events := startSupervised(t, s, 1, actor.WithSupervisor(
		actor.OneForOne(5, time.Minute, nil).WithBackoff(time.Hour, 0)))
	kids[0].Send("boom")
	nextFailure(t, events)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	<-kids[0].Done()
	goleak.VerifyNone(t)
}

// A top-level actor is restarted by the system.
func TestTopLevelRestart(t *testing.T) {
	s := newSystem(t)
	ctx := testCtx(t)
	w := spawn(t, s, "", &worker{})
	if _, err := w.Request(ctx, "boom"); !errors.Is(err, nanoact.ErrInternal) {
		t.Fatalf("Request(boom) = %v", err)
	}
	if v, err := w.Request(ctx, "ping"); err != nil || v != "pong" {
		t.Fatalf("after restart: %v, %v", v, err)
	}
	if st := stats(t, w); st[1] != 2 || st[2] != 1 {
		t.Errorf("started, restarting = %d, %d; want 2, 1", st[1], st[2])
	}
}

// Stopping a parent while a child waits for a back-off restart must not
// revive the child (protoactor would, and the parent would hang).
func TestStopDuringBackoff(t *testing.T) {
	s := newSystem(t)
	ctx := testCtx(t)
	p, kids, events := startSupervised(t, s, 1, actor.WithSupervisor(
		actor.OneForOne(5, time.Minute, nil).WithBackoff(time.Millisecond, 0)))
	kids[0].Send("boom")
	nextFailure(t, events)
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Stop(sctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	<-kids[0].Done()
}

func TestDirectiveString(t *testing.T) {
	for d, want := range map[actor.Directive]string{
		actor.Resume: "resume", actor.Restart: "restart", actor.Stop: "stop",
		actor.Escalate: "escalate", actor.Directive(9): "directive(9)",
	} {
		if d.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(d), d.String(), want)
		}
	}
}

// A child that fails after it was asked to stop is not restarted: in
// protoactor the Restart would follow the Stop and revive the child, which,
// having a child of its own, would then never finish stopping.
func TestFailWhileStopping(t *testing.T) {
	s := newSystem(t)
	ctx := testCtx(t)
	events := make(chan any, 64)
	hold := make(chan struct{})
	leaf := actor.ReceiveFunc(func(c *actor.Context) {
		if c.Message() == (actor.Stopping{}) {
			<-hold // keep the middle stopping until its supervisor has decided
		}
	})
	midR := actor.ReceiveFunc(func(c *actor.Context) {
		switch c.Message() {
		case actor.Started{}:
			c.Spawn("leaf", leaf) //nolint:errcheck // fails only once stopping
		case "stop-then-panic":
			c.Stop(c.Self()) // queued ahead of the supervisor's Restart
			panic("late")
		}
	})
	var mid *actor.Ref
	top := spawn(t, s, "", actor.ReceiveFunc(func(c *actor.Context) {
		switch m := c.Message().(type) {
		case actor.Started:
			var err error
			if mid, err = c.Spawn("mid", midR); err != nil {
				panic(err)
			}
		case actor.ChildFailed, actor.ChildStopped:
			events <- m
		}
	}), actor.WithSupervisor(actor.OneForOne(5, time.Minute, nil)))
	if err := top.Call(ctx, func() {}); err != nil {
		t.Fatal(err)
	}
	mid.Send("stop-then-panic")
	if f := nextFailure(t, events); f.Child != mid {
		t.Fatalf("ChildFailed for %v", f.Child)
	}
	close(hold)
	select {
	case <-mid.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the failed child never finished stopping")
	}
}
