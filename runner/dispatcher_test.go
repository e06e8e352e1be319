package runner_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/cv"
	"github.com/nanoact/nanoact/promises"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/sockets"
)

// Every one of 10,000 tasks over 8 daemons comes back with its own
// result, exactly once.
func TestManyTasks(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	var mu sync.Mutex
	runs := make(map[int]int)
	echo := runner.Register(reg, "echo", func(_ context.Context, n int) (int, error) {
		mu.Lock()
		runs[n]++
		mu.Unlock()
		return n*2 + 1, nil
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 8); err != nil {
		t.Fatal(err)
	}
	// A bound for a hung dispatcher, not a speed target: under -race on
	// a loaded 2-CPU machine 10,000 tasks have taken over 10 s.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.WaitDaemons(ctx, 8); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	as := make([]*aio.Aio[int], n)
	for i := range as {
		as[i] = echo.Submit(ctx, d, i)
	}
	vals, errs := aio.CollectAll(ctx, as)
	if errs != nil {
		t.Fatal(errors.Join(errs...))
	}
	for i, v := range vals {
		if v != i*2+1 {
			t.Fatalf("task %d got %d", i, v)
		}
	}
	mu.Lock()
	for i := range n {
		if runs[i] != 1 {
			t.Fatalf("task %d ran %d times", i, runs[i])
		}
	}
	mu.Unlock()
	s := status(t, d)
	var per int64
	for _, ds := range s.Daemons {
		per += ds.Completed
		if ds.Completed == 0 {
			t.Errorf("daemon %s ran nothing", ds.ID)
		}
	}
	if s.Completed != n || per != n || s.Submitted != n || s.Queued != 0 || s.Executing != 0 || s.Connections != 8 {
		t.Fatalf("status %+v", s)
	}
}

// Tasks go out in submission order: with one daemon they run in order.
func TestFIFO(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	var mu sync.Mutex
	var order []int
	rec := runner.Register(reg, "rec", func(_ context.Context, n int) (int, error) {
		mu.Lock()
		order = append(order, n)
		mu.Unlock()
		return n, nil
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	var as []*aio.Aio[int]
	for i := range 100 {
		as = append(as, rec.Submit(ctx, d, i)) // queued: no daemon yet
	}
	if s := status(t, d); s.Queued != 100 {
		t.Fatalf("queued %d", s.Queued)
	}
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if _, errs := aio.CollectAll(ctx, as); errs != nil {
		t.Fatal(errors.Join(errs...))
	}
	for i, n := range order {
		if n != i {
			t.Fatalf("order %v", order)
		}
	}
}

// WithConcurrency lets one daemon run several tasks at once; WithPerDaemon caps it.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ offer, cap, want int }{{3, 0, 3}, {3, 2, 2}} {
		f := newFixture()
		d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg), runner.WithPerDaemon(c.cap))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.StartDaemons(context.Background(), 1, runner.WithConcurrency(c.offer)); err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t)
		var as []*aio.Aio[int]
		for i := range 5 {
			as = append(as, f.hold.Submit(ctx, d, i))
		}
		for range c.want {
			recv(t, f.g.started)
		}
		s := status(t, d)
		if s.Executing != c.want || s.Queued != 5-c.want || s.Daemons[0].Max != c.want {
			t.Fatalf("offer %d cap %d: status %+v", c.offer, c.cap, s)
		}
		f.g.open()
		if _, errs := aio.CollectAll(ctx, as); errs != nil {
			t.Fatal(errors.Join(errs...))
		}
		_ = d.Close()
	}
}

// A daemon without the session token is refused, logged, and exits with
// ErrPeerAuth; the dispatcher goes on with the others.
func TestRefusedWithoutToken(t *testing.T) {
	t.Parallel()
	f := newFixture()
	core, logs := observer.New(zap.WarnLevel)
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg), runner.WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	for _, tok := range []string{"", "guessed"} {
		err := runner.RunDaemon(ctx, f.reg, d.URL(), runner.WithToken(tok), runner.WithDaemonID("intruder"))
		if !errors.Is(err, nanoact.ErrPeerAuth) {
			t.Fatalf("token %q: %v", tok, err)
		}
	}
	if logs.FilterMessage("daemon refused").FilterField(zap.String("daemon", "intruder")).Len() != 2 {
		t.Fatalf("logs %v", logs.All())
	}
	s := status(t, d)
	if s.Refused != 2 || s.Connections != 0 {
		t.Fatalf("status %+v", s)
	}
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if v, err := f.square.Submit(ctx, d, 4).Value(ctx); err != nil || v != 16 {
		t.Fatal(v, err)
	}
}

// A connection that says no hello is closed after WithHelloTimeout, and
// counted; daemons that do say hello still join.
func TestHelloTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture()
	core, logs := observer.New(zap.WarnLevel)
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg), runner.WithLogger(zap.New(core)),
		runner.WithHelloTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	silent, err := sockets.New(sockets.Poly)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dropped := make(chan struct{}, 4)
	if _, err := silent.WatchPipes(func(ev sockets.PipeEvent) {
		if !ev.Added {
			dropped <- struct{}{}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := silent.Dial(d.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	recv(t, dropped) // the silent connection is closed
	_ = silent.Close()
	if s := status(t, d); s.Silent < 1 {
		t.Fatalf("status %+v", s)
	}
	if logs.FilterMessage("connection closed: no hello").Len() < 1 {
		t.Fatalf("logs %v", logs.All())
	}
	ctx := ctxT(t)
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if v, err := f.square.Submit(ctx, d, 5).Value(ctx); err != nil || v != 25 {
		t.Fatal(v, err)
	}
}

// Remote daemons join over TLS with the generated certificate and the
// token; without the certificate the handshake fails, without the token
// the daemon is refused.
func TestTLSRemote(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, err := runner.NewDispatcher("tls+tcp://127.0.0.1:0", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	url := d.URL()
	if !strings.HasPrefix(url, "tls+tcp://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("url %s", url)
	}
	if _, err := runner.NewDaemon(f.reg, url, runner.WithToken(d.Token())); !errors.Is(err, nanoact.ErrPeerAuth) && !errors.Is(err, nanoact.ErrCrypto) {
		t.Fatalf("no certificate: %v", err)
	}
	if err := runner.RunDaemon(ctx, f.reg, url, runner.WithTrustCert(d.CertPEM())); !errors.Is(err, nanoact.ErrPeerAuth) {
		t.Fatalf("no token: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- runner.RunDaemon(context.Background(), f.reg, url, runner.WithTrustCert(d.CertPEM()), runner.WithToken(d.Token()), runner.WithDaemonID("remote"))
	}()
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := f.square.Submit(ctx, d, 12).Value(ctx); err != nil || v != 144 {
		t.Fatal(v, err)
	}
	s := status(t, d)
	if s.Refused != 1 || len(s.Daemons) != 1 || s.Daemons[0].ID != "remote" {
		t.Fatalf("status %+v", s)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The dispatcher's bye lets the daemon go.
	if err := recv(t, done); err != nil {
		t.Fatalf("remote daemon: %v", err)
	}
}

// A daemon exits after MaxTasks tasks, or after IdleExit without one,
// without losing a task.
func TestDaemonExit(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	cv := aio.NewCV()
	defer d.Register(cv)()
	// left waits until no daemon is connected.
	left := func() {
		for d.Daemons() != 0 {
			if !cv.Wait(ctx) {
				t.Fatal("cv raised")
			}
		}
	}
	quota := make(chan error, 1)
	go func() {
		quota <- runner.RunDaemon(ctx, f.reg, d.URL(), runner.WithToken(d.Token()), runner.WithMaxTasks(3))
	}()
	var as []*aio.Aio[int]
	for i := range 5 {
		as = append(as, f.square.Submit(ctx, d, i))
	}
	if err := recv(t, quota); err != nil {
		t.Fatalf("quota daemon: %v", err)
	}
	left()
	if s := status(t, d); s.Completed != 3 || s.Queued != 2 || s.Connections != 0 {
		t.Fatalf("status %+v", s)
	}
	idle := make(chan error, 1)
	go func() {
		idle <- runner.RunDaemon(ctx, f.reg, d.URL(), runner.WithToken(d.Token()), runner.WithIdleExit(50*time.Millisecond))
	}()
	if _, errs := aio.CollectAll(ctx, as); errs != nil {
		t.Fatal(errors.Join(errs...))
	}
	if err := recv(t, idle); err != nil {
		t.Fatalf("idle daemon: %v", err)
	}
	left()
	if s := status(t, d); s.Completed != 5 || s.Connections != 0 || s.Lost != 0 {
		t.Fatalf("status %+v", s)
	}
}

// A daemon whose connection drops redials, says hello again and goes on;
// the task it was running is re-queued as asked.
func TestReconnect(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	url := d.URL()
	done := make(chan error, 1)
	go func() {
		done <- runner.RunDaemon(context.Background(), f.reg, url, runner.WithToken(d.Token()), runner.WithDaemonID("blip"),
			runner.WithReconnectInterval(10*time.Millisecond))
	}()
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	a := f.hold.Submit(ctx, d, 1, runner.Requeue(-1))
	recv(t, f.g.started)
	// The network blips: the listener and its connections go away, then
	// come back on the same address.
	var tcp = d.Socket().Listeners()[0]
	if tcp.URL() != url {
		t.Fatalf("listener %s", tcp.URL())
	}
	if err := tcp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, f.g.ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("task on the lost connection: %v", err)
	}
	if _, err := d.Listen(url); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, f.g.started); n != 1 {
		t.Fatalf("restarted %d", n)
	}
	f.g.open()
	if v, err := a.Value(ctx); err != nil || v != 1 {
		t.Fatal(v, err)
	}
	s := status(t, d)
	if s.Connections != 1 || s.Requeued != 1 || s.Lost != 1 || s.Completed != 1 || s.Daemons[0].ID != "blip" {
		t.Fatalf("status %+v", s)
	}
	_ = d.Close()
	if err := recv(t, done); err != nil {
		t.Fatalf("daemon: %v", err)
	}
}

// A daemon whose dispatcher vanishes without a bye exits after its grace.
func TestDaemonOrphaned(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	done := make(chan error, 1)
	go func() {
		done <- runner.RunDaemon(context.Background(), f.reg, d.URL(), runner.WithToken(d.Token()), runner.WithReconnectGrace(50*time.Millisecond))
	}()
	if err := d.WaitDaemons(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	_ = d.Socket().Listeners()[0].Close()
	if err := recv(t, done); !errors.Is(err, nanoact.ErrConnShut) {
		t.Fatalf("orphan: %v", err)
	}
}

// Close resolves every queued and running task with ErrClosed, stops the
// in-process daemons, and later submissions fail at once.
func TestClose(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	running := f.hold.Submit(ctx, d, 1)
	recv(t, f.g.started)
	queued := f.hold.Submit(ctx, d, 2)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*aio.Aio[int]{running, queued} {
		if _, err := a.Result(); !errors.Is(err, nanoact.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	}
	if _, err := f.square.Submit(ctx, d, 1).Result(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("submit after Close: %v", err)
	}
	if err := d.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	s, err := d.Status(ctx)
	if err != nil || s.Canceled != 2 || s.Connections != 1 {
		t.Fatalf("final status %+v %v", s, err)
	}
	if err := d.WaitDaemons(ctx, 5); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("WaitDaemons after Close: %v", err)
	}
}

// Task aios compose with promises, Race and CVs.
func TestCompose(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 2)
	ctx := ctxT(t)

	p := promises.Then(aio.Promise(f.square.Submit(ctx, d, 6), nil), func(v int) (string, error) {
		return strings.Repeat("x", v), nil
	})
	if s, err := p.Await(ctx); err != nil || len(s) != 36 {
		t.Fatalf("promise: %q %v", s, err)
	}

	slow := f.sleepy.Submit(ctx, d, time.Hour)
	fast := f.sleepy.Submit(ctx, d, time.Millisecond)
	if i, err := aio.Race(ctx, slow, fast); err != nil || i != 1 {
		t.Fatalf("race: %d %v", i, err)
	}
	slow.Stop()

	cv := aio.NewCV()
	a := f.square.Submit(ctx, d, 2)
	a.OnComplete(func(int, error) { cv.Signal() })
	if !cv.Wait(ctx) {
		t.Fatal("cv raised")
	}
	if v, err := a.Result(); err != nil || v != 4 {
		t.Fatal(v, err)
	}
}

func TestMap(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	inv := runner.Register(reg, "inv", func(_ context.Context, x float64) (float64, error) {
		if x == 0 {
			return 0, errors.New("division by zero")
		}
		return 1 / x, nil
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	in := []float64{1, 2, 4, 8, 16, 32, 64}
	var bar bytes.Buffer
	out, err := inv.Map(ctx, d, in, runner.ProgressTo(&bar))
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range in {
		if out[i] != 1/x {
			t.Fatalf("out %v", out)
		}
	}
	if !strings.Contains(bar.String(), "/7") || !strings.Contains(bar.String(), "inv") {
		t.Fatalf("progress bar %q", bar.String())
	}

	out, err = runner.Map[float64, float64](ctx, d, "inv", []float64{2, 0, 4, 0})
	var me *runner.MapError
	if !errors.As(err, &me) || me.Failed != 2 || me.Errs[0] != nil || me.Errs[1] == nil || me.Errs[3] == nil {
		t.Fatalf("map errors: %v", err)
	}
	var te *runner.TaskError
	if !errors.As(err, &te) || !strings.Contains(te.Text, "division by zero") {
		t.Fatalf("map error chain: %v", err)
	}
	if out[0] != 0.5 || out[2] != 0.25 {
		t.Fatalf("partial results %v", out)
	}
	// Progress() without a terminal draws nothing and still works.
	if _, err := inv.Map(ctx, d, in, runner.Progress()); err != nil {
		t.Fatal(err)
	}
}

// Map's ctx bounds the whole map.
func TestMapCancel(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 1)
	ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	_, err := f.hold.Map(ctx, d, []int{1, 2, 3})
	var me *runner.MapError
	if !errors.As(err, &me) || me.Failed != 3 || !errors.Is(err, nanoact.ErrTimedOut) {
		t.Fatalf("map time-out: %v", err)
	}
}

// Daemons join over every transport a remote daemon may use.
func TestTransports(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"tcp://127.0.0.1:0", "ws://127.0.0.1:0/tasks", "tls+tcp://127.0.0.1:0", "wss://127.0.0.1:0/tasks",
		"ipc://" + t.TempDir() + "/d.ipc"} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			d, err := runner.NewDispatcher(url, runner.WithRegistry(f.reg))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			done := make(chan error, 1)
			go func() {
				done <- runner.RunDaemon(context.Background(), f.reg, d.URL(), runner.WithToken(d.Token()), runner.WithTrustCert(d.CertPEM()))
			}()
			ctx := ctxT(t)
			if err := d.WaitDaemons(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if v, err := f.square.Submit(ctx, d, 11).Value(ctx); err != nil || v != 121 {
				t.Fatal(v, err)
			}
			_ = d.Close()
			if err := recv(t, done); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A thousand daemons connect to one dispatcher at once and share the work.
func TestThousandDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("a thousand daemons")
	}
	t.Parallel()
	f := newFixture()
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n = 1000
	if _, err := d.StartDaemons(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // see TestManyTasks
	defer cancel()
	if err := d.WaitDaemons(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := f.square.Map(ctx, d, make([]int, 5*n)); err != nil {
		t.Fatal(err)
	}
	s := status(t, d)
	busy := 0
	for _, ds := range s.Daemons {
		if ds.Completed > 0 {
			busy++
		}
	}
	if s.Connections != n || s.Completed != 5*n || busy < n/2 {
		t.Fatalf("connections %d, completed %d, daemons used %d", s.Connections, s.Completed, busy)
	}
}

// A waiter on a CV registered with the dispatcher tells a daemon lost
// (Wait false, Err ErrConnReset) from one that joins or leaves normally,
// and from the dispatcher's close (Wait true, Last says which).
func TestDispatcherBroadcastsLostAndLeft(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	c := cv.New()
	defer d.Register(c)()
	// A daemon stopped short (its context cancelled) goes without a leave:
	// lost.
	crashCtx, crash := context.WithCancel(ctx)
	defer crash()
	crashed := make(chan error, 1)
	go func() {
		crashed <- runner.RunDaemon(crashCtx, f.reg, d.URL(), runner.WithToken(d.Token()), runner.WithDaemonID("crash"))
	}()
	if !c.Wait(ctx) || c.Last() != (cv.Event{Kind: cv.Up, Child: "crash"}) {
		t.Fatalf("join: last %+v, err %v", c.Last(), c.Err())
	}
	crash()
	recv(t, crashed)
	if c.Wait(ctx) || !errors.Is(c.Err(), nanoact.ErrConnReset) || c.Last().Kind != cv.Failed || c.Last().Child != "crash" {
		t.Fatalf("lost: last %+v, err %v", c.Last(), c.Err())
	}
	c.Reset()
	// A daemon that leaves when idle is a normal stop.
	idle := make(chan error, 1)
	go func() {
		idle <- runner.RunDaemon(ctx, f.reg, d.URL(), runner.WithToken(d.Token()), runner.WithDaemonID("idle"), runner.WithIdleExit(20*time.Millisecond))
	}()
	if err := recv(t, idle); err != nil {
		t.Fatalf("idle daemon: %v", err)
	}
	if !c.Wait(ctx) || !c.Wait(ctx) || c.Err() != nil || c.Last() != (cv.Event{Kind: cv.Stopped, Child: "idle"}) {
		t.Fatalf("left: last %+v, err %v", c.Last(), c.Err())
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !c.Wait(ctx) || c.Err() != nil || c.Last().Kind != cv.Closed {
		t.Fatalf("close: last %+v, err %v", c.Last(), c.Err())
	}
}
