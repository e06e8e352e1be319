package aio_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

func TestPipeNotifyCounts(t *testing.T) {
	ctx := ctxT(t)
	srv := open(t, sockets.Bus)
	ln, err := srv.Listen(inprocURL())
	if err != nil {
		t.Fatal(err)
	}
	adds, removes := aio.NewCV(), aio.NewCV()
	stopAdd, err := aio.PipeNotify(srv, adds, aio.PipeAdd)
	if err != nil {
		t.Fatal(err)
	}
	defer stopAdd()
	stopRemove, err := aio.PipeNotify(srv, removes, aio.PipeRemove)
	if err != nil {
		t.Fatal(err)
	}
	defer stopRemove()

	var peers []*sockets.Socket
	for range 3 {
		p, err := sockets.New(sockets.Bus, sockets.Dial(ln.URL(), sockets.Sync))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		peers = append(peers, p)
		if !adds.Wait(ctx) {
			t.Fatal("no add")
		}
	}
	if adds.Value() != 0 || removes.Value() != 0 {
		t.Fatalf("adds=%d removes=%d", adds.Value(), removes.Value())
	}
	for _, p := range peers[:2] {
		_ = p.Close()
		if !removes.Wait(ctx) {
			t.Fatal("no remove")
		}
	}
	if adds.Value() != 0 {
		t.Fatal("a remove counted as add")
	}
	// Closing the socket removes the last connection.
	_ = srv.Close()
	if !removes.Wait(ctx) {
		t.Fatal("no remove on close")
	}
	if removes.Until(20 * time.Millisecond) {
		t.Fatal("a connection removed twice")
	}
}

// nanonext's vignette: pipe_notify(sock, cv, remove = TRUE, flag = TRUE);
// r <- recv_aio(sock, cv = cv); wait(cv) || stop("peer disconnected").
func TestPipeNotifyFlag(t *testing.T) {
	ctx := ctxT(t)
	pull := open(t, sockets.Pull)
	push := open(t, sockets.Push)
	connect(t, pull, push, "")
	cv := aio.NewCV()
	stop, err := aio.PipeNotify(pull, cv, aio.PipeRemove|aio.PipeFlag)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	// A message first: Wait is true.
	r := aio.Recv[string](pull, aio.Signal(cv))
	_ = push.Send(ctx, "hi")
	if !cv.Wait(ctx) {
		t.Fatal("Wait false before any removal")
	}
	if v, err := r.Result(); v != "hi" || err != nil {
		t.Fatal(v, err)
	}
	// Then the peer leaves: the waiter wakes with false instead of hanging.
	r = aio.Recv[string](pull, aio.Signal(cv))
	_ = push.Close()
	if cv.Wait(ctx) {
		t.Fatal("Wait true after the peer left")
	}
	if !r.Resolved() {
		r.Stop()
	}
	if cv.Wait(ctx) {
		t.Fatal("flag not sticky")
	}
	cv.Reset()
	cv.Signal()
	if !cv.Wait(ctx) {
		t.Fatal("Reset did not clear the flag")
	}
}

func TestPipeNotifyErrors(t *testing.T) {
	s := open(t, sockets.Pair)
	cv := aio.NewCV()
	if _, err := aio.PipeNotify(s, nil, aio.PipeAdd); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := aio.PipeNotify(s, cv, aio.PipeFlag); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := aio.PipeNotify(nil, cv, aio.PipeAdd); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatal(err)
	}
	_ = s.Close()
	if _, err := aio.PipeNotify(s, cv, aio.PipeAdd); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
	if _, err := aio.NewMonitor(s, cv); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
}

func TestMonitorOrder(t *testing.T) {
	ctx := ctxT(t)
	srv := open(t, sockets.Poly)
	ln, err := srv.Listen(inprocURL())
	if err != nil {
		t.Fatal(err)
	}
	cv := aio.NewCV()
	m, err := aio.NewMonitor(srv, cv)
	if err != nil {
		t.Fatal(err)
	}
	if m.Read() != nil {
		t.Fatal("events before any connection")
	}
	p1 := open(t, sockets.Poly)
	if _, err := p1.Dial(ln.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	cv.Wait(ctx)
	p2 := open(t, sockets.Poly)
	if _, err := p2.Dial(ln.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	cv.Wait(ctx)
	first := m.Read()
	if len(first) != 2 || first[0] <= 0 || first[1] <= 0 || first[0] == first[1] {
		t.Fatalf("events %v, want two adds", first)
	}
	// Directed send to the second pipe, as in nanonext's example.
	if err := srv.Send(ctx, "to p2", sockets.ToPipe(uint32(first[1]))); err != nil {
		t.Fatal(err)
	}
	if v, err := aio.Recv[string](p2).Value(ctx); v != "to p2" || err != nil {
		t.Fatal(v, err)
	}
	_ = p1.Close()
	cv.Wait(ctx)
	_ = p2.Close()
	cv.Wait(ctx)
	second := m.Read()
	want := []int32{-first[0], -first[1]}
	if len(second) != 2 || second[0] != want[0] || second[1] != want[1] {
		t.Fatalf("events %v, want %v", second, want)
	}
	if m.Read() != nil {
		t.Fatal("Read did not forget")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatal(err)
	}
}

// Closing the socket ends a monitor that is never closed: the goroutine
// exits (goleak), connections still up are reported removed.
func TestMonitorEndsWithSocket(t *testing.T) {
	ctx := ctxT(t)
	srv := open(t, sockets.Pair)
	cli := open(t, sockets.Pair)
	mcv := aio.NewCV()
	m, err := aio.NewMonitor(srv, mcv)
	if err != nil {
		t.Fatal(err)
	}
	cv := aio.NewCV()
	stop, _ := aio.PipeNotify(srv, cv, aio.PipeRemove)
	connect(t, srv, cli, "")
	mcv.Wait(ctx)
	_ = srv.Close()
	if !cv.Wait(ctx) || !mcv.Wait(ctx) {
		t.Fatal("no remove on close")
	}
	evs := m.Read()
	if len(evs) != 2 || evs[0] <= 0 || evs[1] != -evs[0] {
		t.Fatalf("events %v", evs)
	}
	stop() // after the socket closed: returns at once
	_ = m.Close()
}
