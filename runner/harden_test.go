package runner

// Adversarial tests of the dispatcher: what an unauthenticated peer, a
// peer that replays a captured hello and a token holder that claims too
// much can do to it. Each checks that the dispatcher lives, its memory
// stays bounded and honest daemons are served.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// spConn is a raw SP connection speaking pair v1 over tcp, for peers
// that do what no nanoact socket would.
type spConn struct{ net.Conn }

// pair1Header is the SP header of pair v1 (protocol 17, peer 17).
var pair1Header = []byte{0, 'S', 'P', 0, 0, 0x11, 0, 0}

func dialSP(t *testing.T, url string) *spConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "tcp://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(pair1Header); err != nil {
		t.Fatal(err)
	}
	var h [8]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		t.Fatal(err)
	}
	return &spConn{c}
}

// send sends body as one pair v1 message (a zero hop count first).
func (c *spConn) send(body []byte) error {
	b := binary.BigEndian.AppendUint64(nil, uint64(4+len(body)))
	b = append(append(b, 0, 0, 0, 0), body...)
	_, err := c.Write(b)
	return err
}

// recv reads one message (at most 1 MiB) and returns its body.
func (c *spConn) recv() ([]byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint64(h[:])
	if n < 4 || n > 1<<20 {
		return nil, fmt.Errorf("message of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	return b[4:], nil
}

// challenge reads the challenge the dispatcher sends first.
func (c *spConn) challenge(t *testing.T) frame {
	t.Helper()
	b, err := c.recv()
	if err != nil {
		t.Fatal(err)
	}
	f, err := decodeFrame(b)
	if err != nil || f.kind != kindChallenge || len(f.nonce) != nonceSize {
		t.Fatalf("challenge %+v %v", f, err)
	}
	return f
}

// claim announces a message of size bytes and streams up to stream
// bytes of it; it returns how long the dispatcher took to close the
// connection after the announcement (reading until EOF), or an error if
// it did not within 5 s.
func (c *spConn) claim(size uint64, stream int) (time.Duration, error) {
	start := time.Now()
	_ = c.SetDeadline(start.Add(5 * time.Second))
	if _, err := c.Write(binary.BigEndian.AppendUint64(nil, size)); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() { // stream what the claim announced, until cut off
		defer close(done)
		chunk := make([]byte, 32<<10)
		for sent := 0; sent < stream; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	// Returns at EOF or a reset: the dispatcher closed (a reset when
	// it closes with our bytes unread).
	_, err := io.Copy(io.Discard, c)
	el := time.Since(start)
	_ = c.Close()
	<-done
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return el, fmt.Errorf("not closed: %w", err)
	}
	return el, nil
}

// hardenFixture is a dispatcher on tcp (and ws) with two honest
// in-process daemons and a task that echoes bytes.
type hardenFixture struct {
	d    *Dispatcher
	reg  *Registry
	echo Task[[]byte, []byte]
	tcp  string
	ws   string
}

func newHardenFixture(t *testing.T, locals int, opts ...DispatcherOption) *hardenFixture {
	t.Helper()
	h := &hardenFixture{reg: NewRegistry()}
	h.echo = Register(h.reg, "echo", func(_ context.Context, b []byte) ([]byte, error) { return b, nil })
	d, err := NewDispatcher("tcp://127.0.0.1:0", append([]DispatcherOption{WithRegistry(h.reg),
		WithListen("ws://127.0.0.1:0/runner")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	h.d = d
	for _, u := range d.URLs() {
		switch {
		case strings.HasPrefix(u, "tcp://"):
			h.tcp = u
		case strings.HasPrefix(u, "ws://"):
			h.ws = u
		}
	}
	if _, err := d.StartDaemons(context.Background(), locals); err != nil {
		t.Fatal(err)
	}
	return h
}

// honest submits echo tasks until stop is closed and counts them.
type honest struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	once       sync.Once
	wg         sync.WaitGroup
}

func (h *hardenFixture) serve(t *testing.T) *honest {
	hs := &honest{stop: make(chan struct{})}
	t.Cleanup(func() { hs.end() })
	hs.wg.Go(func() {
		ctx := context.Background()
		arg := []byte("honest")
		for {
			select {
			case <-hs.stop:
				return
			default:
			}
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			v, err := h.echo.Submit(tctx, h.d, arg).Value(tctx)
			cancel()
			if err != nil || !bytes.Equal(v, arg) {
				hs.failed.Add(1)
				t.Errorf("honest task: %v", err)
				continue
			}
			hs.ok.Add(1)
		}
	})
	return hs
}

func (hs *honest) end() (ok, failed int64) {
	hs.once.Do(func() { close(hs.stop) })
	hs.wg.Wait()
	return hs.ok.Load(), hs.failed.Load()
}

// heapPeak samples the heap in use until stopped and returns its peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

func heapNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// A connection that has not said hello may send one small message: a
// larger one (here, one announcing 8 GiB and streaming bytes) closes it
// at once, on tcp and on ws, and is counted; honest daemons are served
// throughout, and once a daemon's hello is accepted it may send large
// results.
func TestPreHelloLimit(t *testing.T) {
	h := newHardenFixture(t, 2)
	ctx := ctxFor(t, 30*time.Second)
	hs := h.serve(t)

	// Raw tcp: announce 8 GiB, stream 1 MiB.
	c := dialSP(t, h.tcp)
	c.challenge(t)
	el, err := c.claim(8<<30, 1<<20)
	if err != nil {
		t.Fatalf("8 GiB claim: %v", err)
	}
	t.Logf("8 GiB claim before hello: closed after %v", el)

	// tcp and ws through a socket: a 5 KiB message before hello.
	for _, u := range []string{h.tcp, h.ws} {
		peer, err := sockets.New(sockets.Poly)
		if err != nil {
			t.Fatal(err)
		}
		dropped := make(chan struct{}, 4)
		if _, err := peer.WatchPipes(func(ev sockets.PipeEvent) {
			if !ev.Added {
				dropped <- struct{}{}
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.Dial(u, sockets.Sync); err != nil {
			t.Fatal(err)
		}
		m, err := peer.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.Free()
		if err := peer.Send(ctx, make([]byte, 5<<10), sockets.Raw); err != nil {
			t.Fatal(err)
		}
		select {
		case <-dropped:
		case <-ctx.Done():
			t.Fatalf("%s: 5 KiB before hello: not closed", u)
		}
		_ = peer.Close()
	}
	ok, failed := hs.end()
	if ok == 0 || failed != 0 {
		t.Fatalf("honest tasks: %d ok, %d failed", ok, failed)
	}
	s, err := h.d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Oversize != 3 || s.Connections != 2 {
		t.Fatalf("status %+v", s)
	}

	// Daemons that joined over tcp and ws send and receive 1 MiB.
	r := newHardenFixture(t, 0)
	big := bytes.Repeat([]byte{7}, 1<<20)
	for _, u := range []string{r.tcp, r.ws} {
		dm, err := NewDaemon(r.reg, u, WithToken(r.d.Token()), WithDaemonID("remote"), WithReconnectGrace(0))
		if err != nil {
			t.Fatal(err)
		}
		run := make(chan error, 1)
		go func() { run <- dm.Run(ctx) }()
		if err := r.d.WaitDaemons(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if v, err := r.echo.Submit(ctx, r.d, big).Value(ctx); err != nil || !bytes.Equal(v, big) {
			t.Fatalf("%s: 1 MiB echo: %v", u, err)
		}
		_ = dm.Close()
		<-run
		if err := waitFor(ctx, func() bool { return r.d.Daemons() == 0 }); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds or ctx ends (for states that have
// no event of their own to wait on).
func waitFor(ctx context.Context, cond func() bool) error {
	tk := time.NewTicker(2 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
	}
	return nil
}

// tapProxy forwards one tcp connection to target and records both
// directions.
type tapProxy struct {
	ln       net.Listener
	mu       sync.Mutex
	up, down bytes.Buffer // daemon → dispatcher, dispatcher → daemon
	wg       sync.WaitGroup
}

type tapWriter struct {
	p *tapProxy
	b *bytes.Buffer
}

func (w tapWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.b.Write(b)
}

func newTapProxy(t *testing.T, target string) *tapProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tapProxy{ln: ln}
	p.wg.Go(func() {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", strings.TrimPrefix(target, "tcp://"))
		if err != nil {
			_ = in.Close()
			return
		}
		var cw sync.WaitGroup
		cw.Go(func() { _, _ = io.Copy(io.MultiWriter(out, tapWriter{p, &p.up}), in); _ = out.Close() })
		cw.Go(func() { _, _ = io.Copy(io.MultiWriter(in, tapWriter{p, &p.down}), out); _ = in.Close() })
		cw.Wait()
	})
	t.Cleanup(p.close)
	return p
}

func (p *tapProxy) close() { _ = p.ln.Close(); p.wg.Wait() }

func (p *tapProxy) url() string { return "tcp://" + p.ln.Addr().String() }

// frames splits a recorded SP stream (tcp framing, pair v1) into message
// bodies.
func frames(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if len(b) < 8 {
		t.Fatalf("stream of %d bytes", len(b))
	}
	b = b[8:]
	var out [][]byte
	for len(b) >= 8 {
		n := binary.BigEndian.Uint64(b)
		if uint64(len(b)-8) < n {
			break
		}
		out = append(out, b[8+4:8+n])
		b = b[8+n:]
	}
	return out
}

// The hello is a challenge-response: the token never crosses the wire,
// and a hello captured on one connection is refused on another (a fresh
// nonce each). A hello of the old version gets a refusal that says so.
func TestHelloReplay(t *testing.T) {
	h := newHardenFixture(t, 0)
	ctx := ctxFor(t, 30*time.Second)
	proxy := newTapProxy(t, h.tcp)
	dm, err := NewDaemon(h.reg, proxy.url(), WithToken(h.d.Token()), WithDaemonID("captured"), WithReconnectGrace(0))
	if err != nil {
		t.Fatal(err)
	}
	run := make(chan error, 1)
	go func() { run <- dm.Run(ctx) }()
	if v, err := h.echo.Submit(ctx, h.d, []byte("through the tap")).Value(ctx); err != nil || string(v) != "through the tap" {
		t.Fatalf("echo through the proxy: %q %v", v, err)
	}
	_ = dm.Close()
	<-run
	proxy.close()
	if err := waitFor(ctx, func() bool { return h.d.Daemons() == 0 }); err != nil {
		t.Fatal(err)
	}

	tok := h.d.Token()
	raw, err := hex.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	var hello []byte
	for _, dir := range [][]byte{proxy.up.Bytes(), proxy.down.Bytes()} {
		if bytes.Contains(dir, []byte(tok)) || bytes.Contains(dir, raw) {
			t.Fatal("the token crossed the wire")
		}
	}
	for _, b := range frames(t, proxy.up.Bytes()) {
		if f, err := decodeFrame(b); err == nil && f.kind == kindHello {
			hello = b
		}
	}
	if hello == nil {
		t.Fatal("no hello captured")
	}

	refusal := func(c *spConn) string {
		t.Helper()
		b, err := c.recv()
		if err != nil {
			t.Fatal(err)
		}
		f, err := decodeFrame(b)
		if err != nil || f.kind != kindRefuse {
			t.Fatalf("refusal %+v %v", f, err)
		}
		return f.text
	}
	for i := range 3 { // replayed on fresh connections
		c := dialSP(t, h.tcp)
		c.challenge(t)
		if err := c.send(hello); err != nil {
			t.Fatal(err)
		}
		if why := refusal(c); why != "bad token" {
			t.Fatalf("replay %d: %q", i, why)
		}
	}
	// Version 1 sent the token itself.
	c := dialSP(t, h.tcp)
	c.challenge(t)
	v1 := appendHead(nil, majArray, 6)
	v1 = appendUint(appendUint(v1, kindHello), 1)
	v1 = appendText(appendText(v1, tok), "old")
	v1 = appendUint(appendUint(v1, 1), 0)
	if err := c.send(v1); err != nil {
		t.Fatal(err)
	}
	if why := refusal(c); !strings.Contains(why, "protocol version 1, want 2") {
		t.Fatalf("old hello: %q", why)
	}
	s, err := h.d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Refused != 4 || s.Connections != 0 || s.Completed != 1 {
		t.Fatalf("status %+v", s)
	}
}

// A token holder claiming 2^40 tasks at once gets DefaultPerDaemon, and
// the dispatcher's memory does not grow with the claim; daemons that
// leave are dropped at once, from the ready queue too.
func TestGreedyClaims(t *testing.T) {
	h := newHardenFixture(t, 1)
	ctx := ctxFor(t, 30*time.Second)
	before := heapNow()
	const n = 8
	peers := make([]*sockets.Socket, n)
	for i := range peers {
		peers[i] = fakeDaemon(t, h.d, fmt.Sprintf("greedy-%d", i), 1<<40, 1<<40) // a valid hello, greedy claims
	}
	if err := h.d.WaitDaemons(ctx, n+1); err != nil {
		t.Fatal(err)
	}
	joined := heapNow()
	s, err := h.d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range s.Daemons {
		if strings.HasPrefix(ds.ID, "greedy") && ds.Max != DefaultPerDaemon {
			t.Fatalf("greedy daemon runs %d at once", ds.Max)
		}
	}
	grown := int64(joined) - int64(before)
	t.Logf("%d greedy daemons (2^40 claimed each): heap %+d KiB", n, grown>>10)
	if grown > 8<<20 {
		t.Fatalf("%d greedy hellos grew the heap by %d MiB", n, grown>>20)
	}
	for _, p := range peers {
		_ = p.Close()
	}
	if err := waitFor(ctx, func() bool { return h.d.Daemons() == 1 }); err != nil {
		t.Fatal(err)
	}
	var ready, daemons, waiting int
	if err := h.d.ref.Call(ctx, func() {
		ready, daemons, waiting = h.d.st.ready.n, len(h.d.st.daemons), len(h.d.st.waiting)
	}); err != nil {
		t.Fatal(err)
	}
	if ready != 1 || daemons != 1 || waiting != 0 {
		t.Fatalf("after the greedy daemons left: ready %d, daemons %d, waiting %d", ready, daemons, waiting)
	}
	t.Logf("after they left: heap %+d KiB", (int64(heapNow())-int64(before))>>10)
	if v, err := h.echo.Submit(ctx, h.d, []byte("x")).Value(ctx); err != nil || string(v) != "x" {
		t.Fatalf("honest task: %q %v", v, err)
	}
}

// WithMaxFrame bounds tasks and results: arguments that do not fit fail at
// Submit, a result that does not fit comes back as an error, and the
// daemon serves on.
func TestMaxFrame(t *testing.T) {
	h := newHardenFixture(t, 1, WithMaxFrame(64<<10))
	ctx := ctxFor(t, 30*time.Second)
	if _, err := h.echo.Submit(ctx, h.d, make([]byte, 100<<10)).Value(ctx); !errors.Is(err, nanoact.ErrMsgSize) {
		t.Fatalf("large arguments: %v", err)
	}
	grow := Register(h.reg, "grow", func(_ context.Context, n int) ([]byte, error) { return make([]byte, n), nil })
	var te *TaskError
	if _, err := grow.Submit(ctx, h.d, 100<<10).Value(ctx); !errors.As(err, &te) || te.Code != nanoact.CodeMsgSize {
		t.Fatalf("large result: %v", err)
	}
	if v, err := grow.Submit(ctx, h.d, 60<<10).Value(ctx); err != nil || len(v) != 60<<10 {
		t.Fatalf("result that fits: %d %v", len(v), err)
	}
	if s, err := h.d.Status(ctx); err != nil || s.Connections != 1 || s.Lost != 0 {
		t.Fatalf("status %+v %v", s, err)
	}
}

// Floods of unauthenticated connections, each attack in turn while
// honest tasks run: the dispatcher lives, closes every attacker at once,
// its heap stays bounded, and every honest task succeeds. Run with -v for
// the figures.
func TestUnauthenticatedFlood(t *testing.T) {
	h := newHardenFixture(t, 2, WithHelloTimeout(2*time.Second))
	ctx := ctxFor(t, 60*time.Second)
	const conns, parallel = 40, 8
	junk := appendResult(nil, 1, []byte("no task of yours"), 0, "", false, "")
	attacks := []struct {
		name string
		run  func(c *spConn, c0 frame) (time.Duration, error)
	}{
		{"claim 8 GiB, stream 4 MiB", func(c *spConn, _ frame) (time.Duration, error) { return c.claim(8<<30, 4<<20) }},
		{"claim 1 GiB, send nothing", func(c *spConn, _ frame) (time.Duration, error) { return c.claim(1<<30, 0) }},
		{"claim 2^63, stream 64 KiB", func(c *spConn, _ frame) (time.Duration, error) { return c.claim(1<<63, 64<<10) }},
		{"4 KiB + 1 before hello", func(c *spConn, _ frame) (time.Duration, error) { return c.claim(helloFrameMax+1, helloFrameMax+1) }},
		{"result before hello", func(c *spConn, _ frame) (time.Duration, error) {
			start := time.Now()
			if err := c.send(junk); err != nil {
				return 0, err
			}
			_, err := io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return 0, errors.New("not closed")
			}
			return time.Since(start), nil
		}},
		{"forged hello", func(c *spConn, c0 frame) (time.Duration, error) {
			start := time.Now()
			mac := helloMAC("guessed", c0.nonce, "forger", 1, 0)
			if err := c.send(appendHello(nil, mac, "forger", 1, 0)); err != nil {
				return 0, err
			}
			b, err := c.recv()
			if err != nil {
				return 0, err
			}
			if f, err := decodeFrame(b); err != nil || f.kind != kindRefuse {
				return 0, fmt.Errorf("not refused: %+v %v", f, err)
			}
			return time.Since(start), nil
		}},
	}
	base := heapNow()
	for _, a := range attacks {
		hs := h.serve(t)
		peak := heapPeak()
		var mu sync.Mutex
		var worst time.Duration
		var failures []error
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		start := time.Now()
		for range conns {
			sem <- struct{}{}
			c := dialSP(t, h.tcp)
			c0 := c.challenge(t)
			wg.Go(func() {
				defer func() { <-sem }()
				el, err := a.run(c, c0)
				_ = c.Close()
				mu.Lock()
				defer mu.Unlock()
				worst = max(worst, el)
				if err != nil {
					failures = append(failures, err)
				}
			})
		}
		wg.Wait()
		took := time.Since(start)
		ok, failed := hs.end()
		p := peak()
		t.Logf("%-28s %d conns in %v: slowest close %v, heap peak %+d KiB over base, honest tasks %d ok %d failed",
			a.name, conns, took.Round(time.Millisecond), worst.Round(time.Microsecond), (int64(p)-int64(base))>>10, ok, failed)
		if len(failures) > 0 {
			t.Fatalf("%s: %d attackers not dealt with: %v", a.name, len(failures), failures[0])
		}
		if failed != 0 || ok == 0 {
			t.Fatalf("%s: honest tasks %d ok, %d failed", a.name, ok, failed)
		}
		if grown := int64(p) - int64(base); grown > 64<<20 {
			t.Fatalf("%s: heap grew by %d MiB", a.name, grown>>20)
		}
	}
	s, err := h.d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("status: oversize %d refused %d silent %d connections %d completed %d", s.Oversize, s.Refused, s.Silent, s.Connections, s.Completed)
	if s.Connections != 2 || s.Oversize != 4*conns || s.Refused != 2*conns || s.Failed != 0 {
		t.Fatalf("status %+v", s)
	}
}

// A daemon whose dispatcher sends no challenge (one older than wire
// version 2) stops with ErrProtocol instead of redialing for ever.
func TestNoChallenge(t *testing.T) {
	old := challengeWait
	challengeWait = 100 * time.Millisecond
	defer func() { challengeWait = old }()
	ctx := ctxFor(t, 10*time.Second)
	v1, err := sockets.New(sockets.Poly)
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	l, err := v1.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = RunDaemon(ctx, NewRegistry(), l.URL(), WithToken("t"))
	if !errors.Is(err, nanoact.ErrProtocol) {
		t.Fatalf("no challenge: %v", err)
	}
}
