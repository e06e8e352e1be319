package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// A half-open connection: the old daemon stays connected and silent
// while a new connection says hello under its id. The new one takes the
// id over at once: the task running on the old one is sent again to the
// new one (Requeue), a task queued for the old one alone (OnDaemon) fails
// as never started, and the old pipe's removal event, whenever it comes,
// leaves the new connection's state alone.
func TestTakeOverHalfOpen(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	d, err := NewDispatcher("", WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxFor(t, 10*time.Second)
	x := TaskNamed[int, int]("x")
	answer := func(s *sockets.Socket, f frame, v int) {
		b, _ := d.codec.Marshal(v)
		sendResult(t, s, f.id, b)
	}
	old := fakeDaemon(t, d, "x", 1, 0)
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	a := x.Submit(ctx, d, 1, Requeue(1))
	fa := recvTask(t, old)
	pinned := x.Submit(ctx, d, 2, OnDaemon("x"))
	waitStatusN(t, d, func(s Status) bool { return s.Queued == 1 })
	st, _ := d.Status(ctx)
	oldPipe := st.Daemons[0].Pipe

	nw := fakeDaemon(t, d, "x", 1, 0)
	waitStatusN(t, d, func(s Status) bool { return s.Replaced == 1 })
	if _, err := pinned.Value(ctx); !errors.Is(err, nanoact.ErrConnReset) || !errors.Is(err, ErrNotStarted) {
		t.Fatalf("task queued for the old connection: %v, want ErrConnReset, ErrNotStarted", err)
	}
	fb := recvTask(t, nw)
	if fb.task != fa.task || fb.attempt != 2 {
		t.Fatalf("new connection got task %d attempt %d, want task %d attempt 2", fb.task, fb.attempt, fa.task)
	}
	answer(nw, fb, 10)
	if v, err := a.Value(ctx); err != nil || v != 10 {
		t.Fatalf("re-queued task: %v %v", v, err)
	}

	// The old pipe's removal, delivered (again) late, changes nothing.
	if err := d.ref.Call(ctx, func() { d.onPipeRemoved(oldPipe) }); err != nil {
		t.Fatal(err)
	}
	c := x.Submit(ctx, d, 3, OnDaemon("x"))
	fc := recvTask(t, nw)
	answer(nw, fc, 30)
	if v, err := c.Value(ctx); err != nil || v != 30 {
		t.Fatalf("OnDaemon(x) after the takeover: %v %v", v, err)
	}
	st, _ = d.Status(ctx)
	if st.Connections != 1 || st.Replaced != 1 || st.Lost != 1 || st.Requeued != 1 || st.Completed != 2 || st.Failed != 1 ||
		st.Queued != 0 || st.Executing != 0 || len(st.Daemons) != 2 || !st.Daemons[0].Online || st.Daemons[0].Pipe == oldPipe ||
		st.Daemons[1].Online || st.Daemons[1].Pipe != oldPipe {
		t.Fatalf("status %+v", st)
	}
	d.mu.Lock()
	id, oldID := d.ids[st.Daemons[0].Pipe], d.ids[oldPipe]
	d.mu.Unlock()
	if id != "x" || oldID != "" {
		t.Fatalf("ids: new %q, old %q", id, oldID)
	}
	if n := logs.FilterMessageSnippet("daemon id taken over").Len(); n != 1 {
		t.Fatalf("takeover logged %d times", n)
	}
}

// A daemon acts on a refusal only if it came on its current connection:
// one from an older connection (the dispatcher replacing a half-open
// connection the daemon has left already) is ignored; one on the current
// connection stops it, with ErrReplaced for a takeover (code CodeExists)
// and ErrPeerAuth for any other code, or none (an older dispatcher).
func TestDaemonRefusalOnCurrentPipeOnly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		body []byte
		want error
	}{
		{"replaced", appendRefuse(nil, `daemon id "x" taken over`, uint64(nanoact.CodeExists)), ErrReplaced},
		{"bad token", appendRefuse(nil, "bad token", uint64(nanoact.CodePeerAuth)), nanoact.ErrPeerAuth},
		{"no code", []byte{0x82, kindRefuse, 0x62, 'n', 'o'}, nanoact.ErrPeerAuth},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d, err := NewDispatcher("")
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			dm, err := NewDaemon(NewRegistry(), d.URL(), WithToken(d.Token()))
			if err != nil {
				t.Fatal(err)
			}
			defer dm.Close()
			deadline := time.Now().Add(10 * time.Second)
			var cur uint32
			for cur == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the daemon's connection never came")
				}
				dm.mu.Lock()
				cur = dm.pipe
				dm.mu.Unlock()
				time.Sleep(time.Millisecond) // no event marks dm.pipe being set: poll
			}
			refusal := func(pipe uint32) {
				m := sockets.NewMsg(nil)
				m.Body = append(m.Body[:0], c.body...)
				m.Pipe = pipe
				dm.handle(m)
			}
			refusal(cur + 1000) // an older connection's
			if err := context.Cause(dm.life); err != nil {
				t.Fatalf("stopped by a refusal on another connection: %v", err)
			}
			refusal(cur)
			err = context.Cause(dm.life)
			if !errors.Is(err, c.want) {
				t.Fatalf("stopped with %v, want %v", err, c.want)
			}
			if c.want != ErrReplaced && errors.Is(err, ErrReplaced) {
				t.Fatalf("%v matches ErrReplaced", err)
			}
		})
	}
}
