package runner

import (
	"context"
	"testing"
	"time"

	"github.com/nanoact/nanoact/sockets"
)

// A task's result goes back on the connection the task came on, or
// nowhere: sent on the daemon's next connection it would come before that
// connection's hello, and the dispatcher closes a connection whose first
// message is not a hello (a CI failure: the daemon then lost its slot for
// the hello time-out). The test plays the dispatcher on a bare socket.
func TestDaemonResultNotSentOnNewConnection(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	disp, err := sockets.New(sockets.Poly, sockets.Listen("tcp://127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer disp.Close()
	url := disp.Listeners()[0].URL()

	release := make(chan struct{})
	reg := NewRegistry()
	Register(reg, "hold", func(_ context.Context, n int) (int, error) {
		<-release // ignores its cancel
		return n, nil
	})
	dm, err := NewDaemon(reg, url, WithToken("t"), WithDaemonID("d"), WithReconnectInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	runErr := make(chan error, 1)
	go func() { runErr <- dm.Run(ctx) }()

	// recv returns the next frame and the pipe it came on.
	recv := func() (frame, uint32) {
		t.Helper()
		m, err := disp.RecvMsg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f, err := decodeFrame(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		return f, m.Pipe
	}
	send := func(pipe uint32, body []byte) {
		t.Helper()
		m := sockets.NewMsg(nil)
		m.Body = body
		if err := disp.Send(ctx, m, sockets.ToPipe(pipe)); err != nil {
			t.Fatal(err)
		}
	}
	// join answers a challenge on pipe with the daemon's hello.
	join := func(pipe uint32) {
		t.Helper()
		send(pipe, appendChallenge(nil, make([]byte, nonceSize), DefaultMaxFrame))
		if f, p := recv(); f.kind != kindHello || p != pipe {
			t.Fatalf("got kind %d on pipe %d, want a hello on %d", f.kind, p, pipe)
		}
	}
	first := waitPipe(t, disp, 0)
	join(first)
	args, _ := disp.Codec().Marshal(7)
	send(first, appendTask(nil, 1, "hold", args, 0, 1, 1, 0, nil))
	waitRunning(t, dm, 1)

	// The connection drops with the task running; the daemon redials.
	if err := disp.ClosePipe(first); err != nil {
		t.Fatal(err)
	}
	second := waitPipe(t, disp, first)
	close(release)
	select { // the task's goroutine has sent its result, or dropped it
	case <-dm.liveDoneOrNil():
	case <-ctx.Done():
		t.Fatal("the task did not return")
	}
	join(second) // its first message must be the hello
	send(second, appendTask(nil, 2, "hold", args, 0, 2, 1, 0, nil))
	if f, p := recv(); f.kind != kindResult || f.id != 2 || p != second {
		t.Fatalf("got kind %d id %d on pipe %d, want the result of task 2 on %d", f.kind, f.id, p, second)
	}
}

// waitPipe waits for s to have a connection other than not, and returns it.
func waitPipe(t *testing.T, s *sockets.Socket, not uint32) uint32 {
	t.Helper()
	got := make(chan uint32, 16)
	stop, err := s.WatchPipes(func(ev sockets.PipeEvent) {
		if ev.Added && ev.Pipe != not {
			got <- ev.Pipe
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case p := <-got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no connection came")
	}
	return 0
}

// waitRunning polls until dm runs n tasks (no event marks a start).
func waitRunning(t *testing.T, dm *Daemon, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		dm.mu.Lock()
		k := len(dm.live)
		dm.mu.Unlock()
		if k == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks running, want %d", k, n)
		}
	}
}

// liveDoneOrNil is liveDone, with a closed channel when none runs.
func (dm *Daemon) liveDoneOrNil() <-chan struct{} {
	if ch := dm.liveDone(); ch != nil {
		return ch
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}
