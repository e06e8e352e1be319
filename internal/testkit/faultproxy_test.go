package testkit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// limit bounds every read, write and wait of these tests.
const limit = 10 * time.Second

// target is the proxy's target: a loopback listener that hands each
// connection it accepts to the test.
type target struct {
	ln    net.Listener
	conns chan net.Conn
	quit  chan struct{} // closed at cleanup: stop handing connections over
	done  chan struct{}
}

func newTarget(t *testing.T) *target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{ln: ln, conns: make(chan net.Conn, 16), quit: make(chan struct{}), done: make(chan struct{})}
	var mu sync.Mutex
	var all []net.Conn
	go func() {
		defer close(tg.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			all = append(all, c)
			mu.Unlock()
			select {
			case tg.conns <- c:
			case <-tg.quit:
			}
		}
	}()
	t.Cleanup(func() {
		close(tg.quit)
		_ = ln.Close()
		<-tg.done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range all {
			_ = c.Close()
		}
	})
	return tg
}

// next returns the next connection the target accepted.
func (tg *target) next(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-tg.conns:
		return c
	case <-time.After(limit):
		t.Fatal("the target accepted no connection")
		return nil
	}
}

// none fails the test if the target has accepted a connection not taken.
func (tg *target) none(t *testing.T) {
	t.Helper()
	select {
	case <-tg.conns:
		t.Fatal("the target accepted a connection")
	default:
	}
}

// link is one connection through the proxy: the client's end and the
// target's.
type link struct{ client, server net.Conn }

func dial(t *testing.T, p *testkit.FaultProxy, tg *target) link {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return link{client: c, server: tg.next(t)}
}

func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(limit))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// closedAfter reads c until it ends and returns what came before; it
// fails the test if c does not end (EOF or reset) within limit.
func closedAfter(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v (read %q)", limit, b)
	}
	return b
}

// quiet fails the test if c delivers a byte within d: the nearest a test
// can come to "nothing is forwarded".
func quiet(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 1)
	n, err := c.Read(b)
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d byte(s), %v; want nothing", n, err)
	}
}

// refused dials p and fails the test unless the connection is reset,
// either while connecting (on loopback the proxy may accept and reset it
// before the dialer looks) or at the first read.
func refused(t *testing.T, p *testkit.FaultProxy) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), limit)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial: %v", err)
		}
		return
	}
	defer c.Close()
	wantEq(t, "refused", closedAfter(t, c), nil)
}

func wantEq(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

func TestFaultProxy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		run  func(t *testing.T, p *testkit.FaultProxy, tg *target)
	}{
		{"forwards both ways", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			l := dial(t, p, tg)
			if err := p.WaitConns(ctxT(t), 1); err != nil {
				t.Fatal(err)
			}
			write(t, l.client, []byte("ping"))
			wantEq(t, "up", readN(t, l.server, 4), []byte("ping"))
			write(t, l.server, []byte("pong!"))
			wantEq(t, "down", readN(t, l.client, 5), []byte("pong!"))
			if s := p.Stats(); s.Accepted != 1 || s.Up != 4 || s.Down != 5 || s.Cut != 0 || s.Refused != 0 {
				t.Fatalf("stats %+v", s)
			}
			// The client leaving closes the target's end too.
			_ = l.client.Close()
			if b := closedAfter(t, l.server); len(b) != 0 {
				t.Fatalf("read %q after the client left", b)
			}
			if err := p.WaitConns(ctxT(t), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"delay holds bytes, one way only", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			l := dial(t, p, tg)
			const d = 100 * time.Millisecond
			p.SetDelay(testkit.Up, d)
			start := time.Now()
			write(t, l.client, []byte("late"))
			wantEq(t, "up", readN(t, l.server, 4), []byte("late"))
			if el := time.Since(start); el < d {
				t.Fatalf("delayed bytes arrived after %v, before the delay of %v", el, d)
			}
			// Down is not delayed (no bound asserted: the machine is
			// loaded); lifting the delay lets bytes through again.
			write(t, l.server, []byte("back"))
			wantEq(t, "down", readN(t, l.client, 4), []byte("back"))
			p.SetDelay(testkit.Up, 0)
			write(t, l.client, []byte("now"))
			wantEq(t, "up", readN(t, l.server, 3), []byte("now"))
		}},
		{"stall holds without closing, resume delivers in order", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			l := dial(t, p, tg)
			p.Stall(testkit.Down)
			write(t, l.server, []byte("one"))
			write(t, l.server, []byte("two"))
			quiet(t, l.client, 100*time.Millisecond)
			// Up still flows while down is stalled.
			write(t, l.client, []byte("up"))
			wantEq(t, "up", readN(t, l.server, 2), []byte("up"))
			p.Resume(testkit.Down)
			wantEq(t, "down", readN(t, l.client, 6), []byte("onetwo"))
			if p.Conns() != 1 {
				t.Fatalf("%d connections", p.Conns())
			}
		}},
		{"cut after n bytes up", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			l := dial(t, p, tg)
			if n := p.CutAfter(testkit.Up, 5); n != 1 {
				t.Fatalf("armed %d", n)
			}
			write(t, l.client, []byte("0123"))
			wantEq(t, "before the cut", readN(t, l.server, 4), []byte("0123"))
			write(t, l.client, []byte("456789"))
			wantEq(t, "at the cut", closedAfter(t, l.server), []byte("4"))
			wantEq(t, "client", closedAfter(t, l.client), nil)
			if s := p.Stats(); s.Cut != 1 || s.Up != 5 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"cut at the next byte down", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			l := dial(t, p, tg)
			p.CutAfter(testkit.Down, 0)
			write(t, l.client, []byte("req"))
			wantEq(t, "up", readN(t, l.server, 3), []byte("req"))
			write(t, l.server, []byte("reply"))
			wantEq(t, "client", closedAfter(t, l.client), nil)
			closedAfter(t, l.server)
		}},
		{"cut arms current connections only", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			old := dial(t, p, tg)
			if err := p.WaitConns(ctxT(t), 1); err != nil {
				t.Fatal(err)
			}
			p.CutAfter(testkit.Both, 0)
			l := dial(t, p, tg)
			write(t, l.client, []byte("fresh"))
			wantEq(t, "new connection", readN(t, l.server, 5), []byte("fresh"))
			write(t, old.client, []byte("x"))
			wantEq(t, "old connection", closedAfter(t, old.server), nil)
		}},
		{"cut all", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			a, b := dial(t, p, tg), dial(t, p, tg)
			if err := p.WaitConns(ctxT(t), 2); err != nil {
				t.Fatal(err)
			}
			p.Stall(testkit.Both) // bytes held in the proxy are dropped
			write(t, a.client, []byte("held"))
			if n := p.CutAll(); n != 2 {
				t.Fatalf("cut %d", n)
			}
			for _, l := range []link{a, b} {
				wantEq(t, "client", closedAfter(t, l.client), nil)
				wantEq(t, "server", closedAfter(t, l.server), nil)
			}
			if err := p.WaitConns(ctxT(t), 0); err != nil {
				t.Fatal(err)
			}
			if s := p.Stats(); s.Cut != 2 {
				t.Fatalf("stats %+v", s)
			}
			p.Resume(testkit.Both)
			c := dial(t, p, tg)
			write(t, c.client, []byte("again"))
			wantEq(t, "after the cut", readN(t, c.server, 5), []byte("again"))
		}},
		{"refuse for a while", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			p.Refuse(time.Hour)
			refused(t, p)
			tg.none(t)
			p.Refuse(0)
			l := dial(t, p, tg)
			write(t, l.client, []byte("in"))
			wantEq(t, "accepted", readN(t, l.server, 2), []byte("in"))
			if s := p.Stats(); s.Refused != 1 || s.Accepted != 1 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"duplicate replays the first bytes", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			l := dial(t, p, tg)
			if n, err := p.Duplicate(5); n != 0 || err != nil {
				t.Fatalf("duplicated %d before any byte: %v", n, err)
			}
			write(t, l.client, []byte("hello"))
			wantEq(t, "original", readN(t, l.server, 5), []byte("hello"))
			write(t, l.client, []byte("+more"))
			wantEq(t, "original", readN(t, l.server, 5), []byte("+more"))
			n, err := p.Duplicate(5)
			if n != 1 || err != nil {
				t.Fatalf("duplicated %d: %v", n, err)
			}
			dup := tg.next(t)
			defer dup.Close()
			wantEq(t, "duplicate", readN(t, dup, 5), []byte("hello"))
			// What the target answers on the duplicate goes nowhere; the
			// original's answers still reach the client.
			write(t, dup, []byte("ignored"))
			write(t, l.server, []byte("ok"))
			wantEq(t, "client", readN(t, l.client, 2), []byte("ok"))
			if n, err := p.Duplicate(-1); n != 1 || err != nil {
				t.Fatalf("duplicated %d: %v", n, err)
			}
			all := tg.next(t)
			defer all.Close()
			wantEq(t, "replay of all", readN(t, all, 10), []byte("hello+more"))
			// Duplicates close with their original.
			p.CutAll()
			closedAfter(t, dup)
			closedAfter(t, all)
		}},
		{"abandon leaves the target half-open", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			l := dial(t, p, tg)
			if err := p.WaitConns(ctxT(t), 1); err != nil {
				t.Fatal(err)
			}
			if n := p.Abandon(); n != 1 {
				t.Fatalf("abandoned %d", n)
			}
			wantEq(t, "client", closedAfter(t, l.client), nil)
			if err := p.WaitConns(ctxT(t), 0); err != nil {
				t.Fatal(err)
			}
			// The target's end stays open: what it sends goes nowhere,
			// and nothing, not even an end, comes back.
			write(t, l.server, []byte("anyone there?"))
			quiet(t, l.server, 100*time.Millisecond)
			if n := p.CutAfter(testkit.Both, 0); n != 0 {
				t.Fatalf("armed %d abandoned connections", n)
			}
			// The client dials again and is forwarded as usual.
			again := dial(t, p, tg)
			write(t, again.client, []byte("back"))
			wantEq(t, "new connection", readN(t, again.server, 4), []byte("back"))
			write(t, l.server, []byte("still there?"))
			quiet(t, l.server, 50*time.Millisecond)
			// CutAll ends the half-open connection too.
			if n := p.CutAll(); n != 2 {
				t.Fatalf("cut %d", n)
			}
			wantEq(t, "abandoned target end", closedAfter(t, l.server), nil)
			closedAfter(t, again.server)
		}},
		{"target down", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			_ = tg.ln.Close()
			<-tg.done
			refused(t, p)
			if s := p.Stats(); s.Refused != 1 || s.Accepted != 0 {
				t.Fatalf("stats %+v", s)
			}
		}},
		{"close ends everything", func(t *testing.T, p *testkit.FaultProxy, tg *target) {
			l := dial(t, p, tg)
			p.Stall(testkit.Up)
			p.SetDelay(testkit.Down, time.Hour)
			write(t, l.client, []byte("held"))
			write(t, l.server, []byte("late"))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			wantEq(t, "client", closedAfter(t, l.client), nil)
			wantEq(t, "server", closedAfter(t, l.server), nil)
			if err := p.Close(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("second close: %v", err)
			}
			if err := p.WaitConns(ctxT(t), 1); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("wait after close: %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := newTarget(t)
			p := testkit.NewFaultProxy(t, tg.ln.Addr().String())
			tc.run(t, p, tg)
		})
	}
}

// Faults may be changed from many goroutines while connections come and
// go; nothing races and Close still stops everything.
func TestFaultProxyConcurrentControl(t *testing.T) {
	t.Parallel()
	tg := newTarget(t)
	p := testkit.NewFaultProxy(t, tg.ln.Addr().String())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				switch (i + j) % 6 {
				case 0:
					p.Stall(testkit.Both)
				case 1:
					p.Resume(testkit.Both)
				case 2:
					p.SetDelay(testkit.Down, time.Millisecond)
				case 3:
					p.CutAfter(testkit.Up, 3)
				case 4:
					p.CutAll()
				case 5:
					_, _ = p.Duplicate(1)
				}
			}
		})
	}
	for range 8 {
		c, err := net.DialTimeout("tcp", p.Addr(), limit)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("abcdef"))
		_ = c.Close()
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
