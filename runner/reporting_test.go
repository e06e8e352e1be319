package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// fakeDaemon joins d over inproc with a valid hello claiming max tasks at
// once and total in all (0: no limit), and returns its socket for the test
// to speak the wire protocol.
func fakeDaemon(t *testing.T, d *Dispatcher, id string, max, total uint64) *sockets.Socket {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	s, err := sockets.New(sockets.Poly)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Dial(d.inproc, sockets.Sync); err != nil {
		t.Fatal(err)
	}
	m, err := s.RecvMsg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeFrame(m.Body)
	if err != nil || c.kind != kindChallenge {
		t.Fatalf("challenge %+v %v", c, err)
	}
	hm := sockets.NewMsg(nil)
	hm.Body = appendHello(hm.Body[:0], helloMAC(d.token, c.nonce, id, max, total), id, max, total)
	m.Free()
	if err := s.SendMsg(ctx, hm); err != nil {
		t.Fatal(err)
	}
	return s
}

// withFakeDaemon returns a dispatcher, closed once the test and its
// deferred calls end, and a fake daemon (one task at a time) joined to it.
func withFakeDaemon(ctx context.Context, t *testing.T) (*Dispatcher, *sockets.Socket) {
	t.Helper()
	d, err := NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	s := fakeDaemon(t, d, "fake", 1, 0)
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return d, s
}

// answerTask sends, from the fake daemon s, the result v of task f.
func answerTask(ctx context.Context, t *testing.T, d *Dispatcher, s *sockets.Socket, f frame, v int) {
	t.Helper()
	b, _ := d.codec.Marshal(v)
	m := sockets.NewMsg(nil)
	m.Body = appendResult(m.Body[:0], f.id, b, 0, "", false, "")
	if err := s.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
}

// recvTask reads the next task frame s is sent.
func recvTask(t *testing.T, s *sockets.Socket) frame {
	t.Helper()
	m, err := s.RecvMsg(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeFrame(m.Body)
	if err != nil || f.kind != kindTask {
		t.Fatalf("task %+v %v", f, err)
	}
	f.args, f.name = nil, "" // they alias m
	m.Free()
	return f
}

// A daemon that sends its result and disconnects while the dispatcher's
// reader is busy (here, in a WatchTasks call for another daemon's
// result): the removal reaches the dispatcher before the reader has read
// the result, and the result still wins (issue 17.8: a task reported lost
// whose daemon had finished it), with Requeue too: the task is neither
// re-queued (run twice) nor reported lost.
func TestResultBeforeRemoval(t *testing.T) {
	t.Parallel()
	for _, requeue := range []int{0, -1} {
		t.Run(fmt.Sprintf("requeue=%d", requeue), func(t *testing.T) {
			t.Parallel()
			resultBeforeRemoval(t, Requeue(requeue))
		})
	}
}

func resultBeforeRemoval(t *testing.T, requeue TaskOption) {
	d, err := NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxFor(t, 10*time.Second)
	x := TaskNamed[int, int]("x")
	// The hook, once armed, makes the reader busy with the next result:
	// it reports whether it runs on the pipe reader that brought that
	// result (a's), and if so waits for hold.
	hold := make(chan struct{})
	direct := make(chan bool, 1)
	var armed atomic.Bool
	stop := d.WatchTasks(func(TaskDone) {
		if !armed.CompareAndSwap(true, false) {
			return
		}
		// Waiting is true while the result is handled on a pipe reader
		// that found the receive waiting (a's: no other message is on
		// its way), false while the goroutine that owns the loop, b's
		// reader say, handles one it took from the queue (see
		// recvloop.Loop.Waiting).
		on := d.rx.Waiting()
		direct <- on
		if on {
			<-hold
		}
	})
	defer stop()
	var release sync.Once
	defer release.Do(func() { close(hold) }) // before Close, on failure too
	answer := func(s *sockets.Socket, f frame, v int) { answerTask(ctx, t, d, s, f, v) }
	sa := fakeDaemon(t, d, "a", 1, 0)
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	first := x.Submit(ctx, d, 1, requeue)
	f1 := recvTask(t, sa)
	sb := fakeDaemon(t, d, "b", 1, 0)
	if err := d.WaitDaemons(ctx, 2); err != nil {
		t.Fatal(err)
	}
	second := x.Submit(ctx, d, 2, requeue) // a is busy: to b
	f2 := recvTask(t, sb)
	// a's result must be handled on a's pipe reader: on b's, b's result
	// could not be read off its inproc pipe nor b's removal be seen while
	// the hook waits. It is when the loop's receive waits as the result
	// comes; but while the reader that handled b's hello is not yet back
	// in its receive (under load), a's result is queued and handled by
	// that one, b's. Then the hook lets it go, and a runs another task.
	extra := 0
	for {
		armed.Store(true)
		answer(sa, f1, 10)
		if <-direct {
			break // the reader is busy
		}
		if v, err := first.Value(ctx); err != nil || v != 10 {
			t.Fatalf("first: %v %v", v, err)
		}
		if extra++; extra == 100 {
			t.Fatal("a's result was never handled on a's pipe reader")
		}
		first = x.Submit(ctx, d, 1, requeue) // b is busy: to a
		f1 = recvTask(t, sa)
	}
	answer(sb, f2, 20)
	if err := sb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_ = sb.Close()
	waitStatusN(t, d, func(s Status) bool { return s.Connections == 1 && s.Lost == 1 })
	release.Do(func() { close(hold) })
	if v, err := second.Value(ctx); err != nil || v != 20 {
		t.Fatalf("result sent before the disconnection: %v %v", v, err)
	}
	if v, err := first.Value(ctx); err != nil || v != 10 {
		t.Fatalf("first: %v %v", v, err)
	}
	if st, _ := d.Status(ctx); st.Requeued != 0 || st.Queued != 0 || st.Completed != int64(2+extra) || st.Failed != 0 {
		t.Fatalf("status %+v (%d tasks run again on a)", st, extra)
	}
}

// An aio callback that takes its time does not hold up the dispatcher:
// the results that come meanwhile are read and counted, and the slots
// they free are filled; their aios resolve after it, in order.
func TestSlowCallbackKeepsReading(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 10*time.Second)
	d, s := withFakeDaemon(ctx, t)
	x := TaskNamed[int, int]("x")
	hold, held := make(chan struct{}), make(chan struct{})
	var release sync.Once
	defer release.Do(func() { close(hold) }) // before Close, on failure too
	first := x.Submit(ctx, d, 1)
	first.OnComplete(func(int, error) { close(held); <-hold })
	answerTask(ctx, t, d, s, recvTask(t, s), 10)
	<-held
	second := x.Submit(ctx, d, 2)
	answerTask(ctx, t, d, s, recvTask(t, s), 20)
	third := x.Submit(ctx, d, 3)
	answerTask(ctx, t, d, s, recvTask(t, s), 30)
	waitStatusN(t, d, func(st Status) bool { return st.Completed == 3 })
	if second.Resolved() {
		t.Fatal("a later task resolved before the callback of an earlier one returned")
	}
	release.Do(func() { close(hold) })
	for i, a := range []*aio.Aio[int]{first, second, third} {
		if v, err := a.Value(ctx); err != nil || v != 10*(i+1) {
			t.Fatalf("task %d: %v %v", i+1, v, err)
		}
	}
}

// A daemon that sends its result and disconnects at once, many times:
// the result wins every time; and each task carries its id and attempt.
func TestResultThenDisconnect(t *testing.T) {
	t.Parallel()
	d, err := NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxFor(t, 30*time.Second)
	x := TaskNamed[int, int]("x")
	for i := range 40 {
		s := fakeDaemon(t, d, "fake", 1, 0)
		if err := d.WaitDaemons(ctx, 1); err != nil {
			t.Fatal(err)
		}
		a := x.Submit(ctx, d, i)
		f := recvTask(t, s)
		if f.task != uint64(i+1) || f.attempt != 1 {
			t.Fatalf("task %d: id %d attempt %d", i, f.task, f.attempt)
		}
		v, _ := d.codec.Marshal(i * 10)
		m := sockets.NewMsg(nil)
		m.Body = appendResult(m.Body[:0], f.id, v, 0, "", false, "")
		if err := s.SendMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		if got, err := a.Value(ctx); err != nil || got != i*10 {
			t.Fatalf("round %d: %v %v (result sent before the disconnection)", i, got, err)
		}
		waitStatusN(t, d, func(s Status) bool { return s.Connections == 0 })
	}
	if s, _ := d.Status(ctx); s.Completed != 40 || s.Failed != 0 {
		t.Fatalf("status %+v", s)
	}
}

// A daemon that answers garbage is disconnected: its task fails with a
// clear error (ErrConnReset, may have run), and the dispatcher goes on
// serving the rest.
func TestGarbageDaemon(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	sq := Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	d, err := NewDispatcher("", WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxFor(t, 10*time.Second)
	s := fakeDaemon(t, d, "liar", 1, 0)
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	a := sq.Submit(ctx, d, 3)
	recvTask(t, s)
	m := sockets.NewMsg(nil)
	m.Body = append(m.Body[:0], 0xff, 0x13, 0x00)
	if err := s.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	_, err = a.Value(ctx)
	if !errors.Is(err, nanoact.ErrConnReset) || !errors.Is(err, ErrMayHaveRun) {
		t.Fatalf("task on a garbage daemon: %v", err)
	}
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if v, err := sq.Submit(ctx, d, 4).Value(ctx); err != nil || v != 16 {
		t.Fatalf("after the garbage daemon: %v %v", v, err)
	}
}

func waitStatusN(t *testing.T, d *Dispatcher, cond func(Status) bool) {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	if err := waitFor(ctx, func() bool {
		s, err := d.Status(ctx)
		return err == nil && cond(s)
	}); err != nil {
		t.Fatal(err)
	}
}
