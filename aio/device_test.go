package aio_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// broker makes a request broker: clients dial front (raw rep), workers
// dial back (raw req), and a device forwards between them.
func broker(t testing.TB) (front, back *sockets.Socket, dev *aio.SendAio) {
	t.Helper()
	front = open(t, sockets.Rep, sockets.WithRaw())
	back = open(t, sockets.Req, sockets.WithRaw())
	dev = aio.Device(front, back)
	t.Cleanup(dev.Stop)
	return front, back, dev
}

// worker answers each request on rep with "re:" and the request, until
// rep closes.
func worker(t testing.TB, wg *sync.WaitGroup, rep *sockets.Socket) {
	wg.Go(func() {
		for {
			m, err := rep.RecvMsg(context.Background())
			if err != nil {
				return
			}
			if err := rep.Send(context.Background(), append([]byte("re:"), m.Body...), sockets.Raw); err != nil {
				m.Free()
				return
			}
			m.Free()
		}
	})
}

func TestDeviceReqRepBroker(t *testing.T) {
	ctx := ctxT(t)
	front, back, dev := broker(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	for range 2 {
		w := open(t, sockets.Rep)
		connect(t, back, w, "")
		worker(t, &wg, w)
		defer w.Close()
	}
	ln, err := front.Listen(inprocURL())
	if err != nil {
		t.Fatal(err)
	}
	var cwg sync.WaitGroup
	errs := make(chan error, 3)
	for c := range 3 {
		cl := open(t, sockets.Req, sockets.WithSendMode(sockets.Raw))
		dialTo(t, front, cl, ln.URL())
		cwg.Go(func() {
			for i := range 50 {
				q := fmt.Sprintf("c%d-%d", c, i)
				if err := cl.Send(ctx, []byte(q)); err != nil {
					errs <- err
					return
				}
				m, err := cl.RecvMsg(ctx)
				if err != nil {
					errs <- err
					return
				}
				if got := string(m.Body); got != "re:"+q {
					errs <- fmt.Errorf("client %d got %q for %q", c, got, q)
				}
				m.Free()
			}
		})
	}
	cwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if dev.Resolved() {
		_, err := dev.Result()
		t.Fatalf("device ended: %v", err)
	}
}

func TestDeviceSurveyBroker(t *testing.T) {
	ctx := ctxT(t)
	front := open(t, sockets.Respondent, sockets.WithRaw())
	back := open(t, sockets.Surveyor, sockets.WithRaw())
	dev := aio.Device(front, back)
	defer dev.Stop()
	resp := open(t, sockets.Respondent)
	connect(t, back, resp, "")
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		m, err := resp.RecvMsg(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		if err := resp.Send(ctx, append([]byte("yes:"), m.Body...), sockets.Raw); err != nil {
			t.Error(err)
		}
		m.Free()
	})
	sv := open(t, sockets.Surveyor, sockets.WithSendMode(sockets.Raw))
	connect(t, front, sv, "")
	if err := sv.Send(ctx, []byte("q")); err != nil {
		t.Fatal(err)
	}
	m, err := sv.RecvMsg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body) != "yes:q" {
		t.Fatalf("got %q", m.Body)
	}
}

func TestDevicePubSubForwarder(t *testing.T) {
	ctx := ctxT(t)
	in := open(t, sockets.Sub, sockets.WithRaw())
	out := open(t, sockets.Pub, sockets.WithRaw())
	dev := aio.Device(in, out) // sub → pub: one direction
	defer dev.Stop()
	pub := open(t, sockets.Pub, sockets.WithSendMode(sockets.Raw))
	connect(t, in, pub, "")
	var subs []*sockets.Socket
	for range 2 {
		sub := open(t, sockets.Sub)
		if err := sub.Subscribe(""); err != nil {
			t.Fatal(err)
		}
		connect(t, out, sub, "")
		subs = append(subs, sub)
	}
	for i := range 20 {
		if err := pub.Send(ctx, []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
		for _, sub := range subs {
			m, err := sub.RecvMsg(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprint("m", i); string(m.Body) != want {
				t.Fatalf("got %q, want %q", m.Body, want)
			}
			m.Free()
		}
	}
}

func TestDeviceReflector(t *testing.T) {
	ctx := ctxT(t)
	t.Run("pair", func(t *testing.T) {
		r := open(t, sockets.Pair, sockets.WithRaw())
		dev := aio.Device(r, nil)
		defer dev.Stop()
		p := open(t, sockets.Pair, sockets.WithSendMode(sockets.Raw))
		connect(t, r, p, "")
		for i := range 10 {
			if err := p.Send(ctx, []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
			m, err := p.RecvMsg(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Body) != fmt.Sprint(i) {
				t.Fatalf("got %q", m.Body)
			}
			m.Free()
		}
	})
	t.Run("bus", func(t *testing.T) {
		r := open(t, sockets.Bus, sockets.WithRaw())
		dev := aio.Device(r, r)
		defer dev.Stop()
		a := open(t, sockets.Bus, sockets.WithSendMode(sockets.Raw))
		b := open(t, sockets.Bus, sockets.WithSendMode(sockets.Raw))
		ln, err := r.Listen(inprocURL())
		if err != nil {
			t.Fatal(err)
		}
		dialTo(t, r, a, ln.URL())
		dialTo(t, r, b, ln.URL())
		if err := a.Send(ctx, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		m, err := b.RecvMsg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Body) != "hi" {
			t.Fatalf("got %q", m.Body)
		}
		m.Free()
		// The sender's own copy is skipped: a's next message is b's.
		if err := b.Send(ctx, []byte("from b")); err != nil {
			t.Fatal(err)
		}
		m, err = a.RecvMsg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Body) != "from b" {
			t.Fatalf("sender got %q", m.Body)
		}
		m.Free()
	})
}

func TestDeviceInvalid(t *testing.T) {
	cases := []struct {
		name   string
		s1, s2 func(t *testing.T) *sockets.Socket
	}{
		{"nil", func(*testing.T) *sockets.Socket { return nil }, func(*testing.T) *sockets.Socket { return nil }},
		{"cooked", func(t *testing.T) *sockets.Socket { return open(t, sockets.Rep) }, func(t *testing.T) *sockets.Socket { return open(t, sockets.Req, sockets.WithRaw()) }},
		{"cooked second", func(t *testing.T) *sockets.Socket { return open(t, sockets.Rep, sockets.WithRaw()) }, func(t *testing.T) *sockets.Socket { return open(t, sockets.Req) }},
		{"not peers", func(t *testing.T) *sockets.Socket { return open(t, sockets.Rep, sockets.WithRaw()) }, func(t *testing.T) *sockets.Socket { return open(t, sockets.Pub, sockets.WithRaw()) }},
		{"same protocol", func(t *testing.T) *sockets.Socket { return open(t, sockets.Req, sockets.WithRaw()) }, func(t *testing.T) *sockets.Socket { return open(t, sockets.Req, sockets.WithRaw()) }},
		{"reflect req", func(t *testing.T) *sockets.Socket { return open(t, sockets.Req, sockets.WithRaw()) }, func(*testing.T) *sockets.Socket { return nil }},
		{"reflect cooked bus", func(t *testing.T) *sockets.Socket { return open(t, sockets.Bus) }, func(*testing.T) *sockets.Socket { return nil }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dev := aio.Device(c.s1(t), c.s2(t))
			if !dev.Resolved() {
				dev.Stop()
				t.Fatal("device started")
			}
			_, err := dev.Result()
			wantCode(t, err, nanoact.ErrInvalid)
		})
	}
}

// TestDeviceSideCloses closes one socket: the device ends with ErrClosed
// and leaves the other socket open and usable.
func TestDeviceSideCloses(t *testing.T) {
	for _, which := range []string{"front", "back"} {
		t.Run(which, func(t *testing.T) {
			ctx := ctxT(t)
			front, back, dev := broker(t)
			closing, other := front, back
			if which == "back" {
				closing, other = back, front
			}
			_ = closing.Close()
			if _, err := dev.Value(ctx); !errors.Is(err, nanoact.ErrClosed) {
				t.Fatalf("device ended with %v, want ErrClosed", err)
			}
			select {
			case <-other.Done():
				t.Fatal("the device closed the other socket")
			default:
			}
			if _, err := other.Listen(inprocURL()); err != nil {
				t.Fatalf("other socket unusable: %v", err)
			}
		})
	}
}

// TestDeviceCloseWhileBlocked closes the receiving side while the device
// is blocked sending to the other side (a raw push with no peer).
func TestDeviceCloseWhileBlocked(t *testing.T) {
	for _, which := range []string{"from", "to"} {
		t.Run(which, func(t *testing.T) {
			ctx := ctxT(t)
			pull := open(t, sockets.Pull, sockets.WithRaw())
			push := open(t, sockets.Push, sockets.WithRaw())
			if err := sockets.Set(push, sockets.SendBuffer, 1); err != nil {
				t.Fatal(err)
			}
			dev := aio.Device(pull, push)
			src := open(t, sockets.Push, sockets.WithSendMode(sockets.Raw))
			connect(t, pull, src, "")
			// Messages fill push's queue (its send-buffer and the
			// device's room), the next blocks the device.
			for i := range 2 + aio.DeviceRoom() {
				if err := src.Send(ctx, []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
			}
			// With no peer on push, forwarding is blocked; nothing resolves.
			if dev.Resolved() {
				_, err := dev.Result()
				t.Fatalf("device ended: %v", err)
			}
			if which == "from" {
				_ = pull.Close()
			} else {
				_ = push.Close()
			}
			if _, err := dev.Value(ctx); !errors.Is(err, nanoact.ErrClosed) {
				t.Fatalf("device ended with %v, want ErrClosed", err)
			}
		})
	}
}

// TestDeviceStop stops a device that is blocked sending: Stop returns,
// the aio is cancelled and both sockets stay open, the receiving one with
// no receive of the device left in its queue.
func TestDeviceStop(t *testing.T) {
	ctx := ctxT(t)
	pull := open(t, sockets.Pull, sockets.WithRaw())
	push := open(t, sockets.Push, sockets.WithRaw())
	if err := sockets.Set(push, sockets.SendBuffer, 1); err != nil {
		t.Fatal(err)
	}
	dev := aio.Device(pull, push)
	src := open(t, sockets.Push, sockets.WithSendMode(sockets.Raw))
	connect(t, pull, src, "")
	// Messages fill push's queue (its send-buffer and the device's room),
	// the next blocks the device.
	for range 2 + aio.DeviceRoom() {
		if err := src.Send(ctx, []byte("b")); err != nil {
			t.Fatal(err)
		}
	}
	dev.Stop()
	_, err := dev.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	for _, s := range []*sockets.Socket{pull, push} {
		select {
		case <-s.Done():
			t.Fatalf("Stop closed %s", s)
		default:
		}
	}
	// The pull socket still receives: the device took no message after Stop.
	if err := src.Send(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := pull.RecvMsg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := string(m.Body)
		m.Free()
		if got == "after" {
			return
		}
		if got != "b" { // not yet taken by the device
			t.Fatalf("got %q", got)
		}
	}
}

// TestDeviceStopIdle stops devices waiting for messages, many times, to
// shake out races between Stop and the receive being queued.
func TestDeviceStopIdle(t *testing.T) {
	front := open(t, sockets.Rep, sockets.WithRaw())
	back := open(t, sockets.Req, sockets.WithRaw())
	for range 200 {
		dev := aio.Device(front, back)
		dev.Stop()
		_, err := dev.Result()
		wantCode(t, err, nanoact.ErrCanceled)
	}
}

// TestDeviceClosedSocket starts a device on a socket already closed: it
// ends at once with ErrClosed.
func TestDeviceClosedSocket(t *testing.T) {
	ctx := ctxT(t)
	front := open(t, sockets.Rep, sockets.WithRaw())
	back := open(t, sockets.Req, sockets.WithRaw())
	_ = back.Close()
	dev := aio.Device(front, back)
	_, err := dev.Value(ctx)
	wantCode(t, err, nanoact.ErrClosed)
	select {
	case <-front.Done():
		t.Fatal("device closed front")
	default:
	}
}

// TestDeviceTimeout bounds a device with Timeout: it ends with
// ErrTimedOut and leaves both sockets open.
func TestDeviceTimeout(t *testing.T) {
	ctx := ctxT(t)
	r := open(t, sockets.Pair, sockets.WithRaw())
	dev := aio.Device(r, nil, aio.Timeout(20*time.Millisecond))
	_, err := dev.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	select {
	case <-r.Done():
		t.Fatal("device closed its socket")
	default:
	}
}

// TestDeviceStopUnderLoad stops, or closes a side of, a device while
// messages flow through it: it ends, and nothing forwards afterwards.
func TestDeviceStopUnderLoad(t *testing.T) {
	for _, how := range []string{"stop", "close-in", "close-out"} {
		t.Run(how, func(t *testing.T) {
			ctx := ctxT(t)
			in := open(t, sockets.Pull, sockets.WithRaw())
			out := open(t, sockets.Push, sockets.WithRaw())
			dev := aio.Device(in, out)
			src := open(t, sockets.Push, sockets.WithSendMode(sockets.Raw))
			dst := open(t, sockets.Pull)
			connect(t, in, src, "")
			connect(t, dst, out, "")
			stopSrc := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					select {
					case <-stopSrc:
						return
					default:
					}
					if err := src.Send(sockets.NonBlock(ctx), []byte("x")); err != nil && !errors.Is(err, nanoact.ErrTryAgain) {
						return
					}
				}
			})
			// Let some messages through first, then keep draining.
			for range 3 {
				m, err := dst.RecvMsg(ctx)
				if err != nil {
					t.Fatal(err)
				}
				m.Free()
			}
			wg.Go(func() {
				for {
					m, err := dst.RecvMsg(ctx)
					if err != nil {
						return
					}
					m.Free()
				}
			})
			want := nanoact.ErrClosed
			switch how {
			case "stop":
				dev.Stop()
				want = nanoact.ErrCanceled
			case "close-in":
				_ = in.Close()
			case "close-out":
				_ = out.Close()
			}
			_, err := dev.Value(ctx)
			wantCode(t, err, want)
			close(stopSrc)
			_ = dst.Close()
			wg.Wait()
		})
	}
}

// TestDeviceNeverBlocks starts a device on a socket with messages already
// queued and a send side that cannot take them: Device still returns at
// once, and Stop ends it.
func TestDeviceNeverBlocks(t *testing.T) {
	ctx := ctxT(t)
	in := open(t, sockets.Pull, sockets.WithRaw())
	out := open(t, sockets.Push, sockets.WithRaw())
	if err := sockets.Set(out, sockets.SendBuffer, 1); err != nil {
		t.Fatal(err)
	}
	src := open(t, sockets.Push, sockets.WithSendMode(sockets.Raw))
	connect(t, in, src, "")
	for i := range 3 + aio.DeviceRoom() { // more than push's queue takes
		if err := src.Send(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The messages reach in's queue (no receiver yet): wait for them.
	ready, err := in.RecvReady()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("no message queued")
	}
	started := make(chan *aio.SendAio, 1)
	go func() { started <- aio.Device(in, out) }()
	select {
	case dev := <-started:
		dev.Stop()
		_, err := dev.Result()
		wantCode(t, err, nanoact.ErrCanceled)
	case <-ctx.Done():
		t.Fatal("Device blocked")
	}
}
