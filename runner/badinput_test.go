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

// sendResult sends a result frame for attempt id with value (raw bytes,
// not necessarily CBOR) from a fake daemon.
func sendResult(t *testing.T, s *sockets.Socket, id uint64, value []byte) {
	t.Helper()
	m := sockets.NewMsg(nil)
	m.Body = appendResult(m.Body[:0], id, value, 0, "", false, "")
	if err := s.SendMsg(ctxFor(t, 10*time.Second), m); err != nil {
		t.Fatal(err)
	}
}

// Bad input from a daemon that stays well-formed: a result whose value
// does not decode fails that task with ErrBadType, and a daemon that
// never answers holds only its own tasks (TaskTimeout and Stop end them
// at once, as may-have-run; being no process of ours, it is not killed,
// and says so at Warn). The dispatcher serves the rest all along.
func TestSilentAndUndecodableDaemon(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	sq := Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	core, logs := observer.New(zap.WarnLevel)
	d, err := NewDispatcher("", WithRegistry(reg), WithLogger(zap.New(core)), WithInterruptGrace(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxFor(t, 10*time.Second)
	s := fakeDaemon(t, d, "mute", 2, 0)
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Both go to the fake daemon, the only one yet.
	bad := sq.Submit(ctx, d, 2)
	mute := sq.Submit(ctx, d, 3, TaskTimeout(time.Second)) // sent at once: it times out on the daemon
	f1, _ := recvTask(t, s), recvTask(t, s)
	sendResult(t, s, f1.id, []byte{0xff, 0x00}) // not CBOR
	if _, err := bad.Value(ctx); !errors.Is(err, nanoact.ErrBadType) {
		t.Fatalf("undecodable result: %v", err)
	}
	if _, err := mute.Value(ctx); !errors.Is(err, nanoact.ErrTimedOut) || !errors.Is(err, ErrMayHaveRun) {
		t.Fatalf("unanswered task: %v", err)
	}
	stopped := sq.Submit(ctx, d, 4)
	for { // past the timed-out task's cancel, to the next task
		m, err := s.RecvMsg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f, err := decodeFrame(m.Body)
		m.Free()
		if err != nil || f.kind != kindCancel && f.kind != kindTask {
			t.Fatalf("frame %+v %v", f, err)
		}
		if f.kind == kindTask {
			break
		}
	}
	stopped.Stop()
	if _, err := stopped.Result(); !errors.Is(err, nanoact.ErrCanceled) || !errors.Is(err, ErrMayHaveRun) {
		t.Fatalf("stopped on a mute daemon: %v", err)
	}
	// The mute daemon keeps both slots (its cancels unanswered) and its
	// connection; a real one serves the rest.
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if v, err := sq.Submit(ctx, d, i).Value(ctx); err != nil || v != i*i {
			t.Fatalf("square(%d) beside a mute daemon: %v %v", i, v, err)
		}
	}
	waitStatusN(t, d, func(st Status) bool { return st.Connections == 2 && st.Executing == 2 && st.Lost == 0 })
	if err := waitFor(ctx, func() bool {
		return logs.FilterMessageSnippet("its daemon cannot be stopped").Len() == 2
	}); err != nil {
		t.Fatalf("no warning for the unkillable daemon: %v", logs.All())
	}
}
