package test

// Faults on purpose: req/rep, pub/sub and the task runner through
// testkit.FaultProxy, which delays, stalls, cuts, refuses and duplicates
// their connections while they work (over tcp, and for the cuts also ws,
// tls+tcp and wss). Cut offsets count bytes on the wire: over tcp an SP
// frame is a 64-bit length, the header, then the body; over ws and TLS
// the framing adds its own bytes, so an offset still falls mid-message.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/sockets"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// The bytes of an SP message frame before its body: the 64-bit length,
// then for req/rep the 32-bit request id.
const (
	lenPrefix = 8
	reqID     = 4
)

// faultScheme is a transport the fault tests run over: the proxy
// forwards bytes, so the websocket upgrade and TLS records go through it
// like SP frames over tcp.
type faultScheme struct {
	name, path string
	tls        bool
}

var faultSchemes = []faultScheme{
	{name: "tcp"},
	{name: "ws", path: "/faults"},
	{name: "tls+tcp", tls: true},
	{name: "wss", path: "/faults", tls: true},
}

// proxied makes s listen over sc on 127.0.0.1, port 0, and returns a
// FaultProxy to that listener, with the URL and endpoint options a peer
// dials it with through the proxy.
func proxied(t *testing.T, s *sockets.Socket, sc faultScheme) (*testkit.FaultProxy, string, []sockets.EndpointOption) {
	t.Helper()
	var lopts, dopts []sockets.EndpointOption
	if sc.tls {
		srv, cert := testkit.SelfSignedServer(t, "127.0.0.1")
		lopts = append(lopts, sockets.TLS(srv))
		dopts = append(dopts, sockets.TLS(tlsConfig(t, false, sockets.TLSCA(cert))))
	}
	l, err := s.Listen(sc.name+"://127.0.0.1:0"+sc.path, lopts...)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := strings.TrimPrefix(l.URL(), sc.name+"://")
	addr = strings.TrimSuffix(addr, sc.path)
	p := testkit.NewFaultProxy(t, addr)
	return p, sc.name + "://" + p.Addr() + sc.path, dopts
}

// reqRepRig is a req socket dialing an echoing rep socket through a
// FaultProxy.
type reqRepRig struct {
	req, rep *sockets.Socket
	p        *testkit.FaultProxy
}

// newReqRep opens the rig over sc with a short reconnect time and resend
// time, so that a lost request is sent again soon, and waits for the
// connection.
func newReqRep(t *testing.T, sc faultScheme) reqRepRig {
	t.Helper()
	return newReqRepWith(t, sc, nil)
}

// newReqRepWith is newReqRep, calling beforeDial (if not nil) on the proxy
// before the req dials.
func newReqRepWith(t *testing.T, sc faultScheme, beforeDial func(*testkit.FaultProxy)) reqRepRig {
	t.Helper()
	rep := open(t, sockets.Rep)
	p, url, dopts := proxied(t, rep, sc)
	if beforeDial != nil {
		beforeDial(p)
	}
	wait := testkit.Echo(rep)
	t.Cleanup(func() { _ = rep.Close(); wait() })
	req := open(t, sockets.Req)
	if err := sockets.Set(req, sockets.ResendTime, 250*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := req.Dial(url, dopts...); err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if err := p.WaitConns(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	return reqRepRig{req: req, rep: rep, p: p}
}

// roundTrip sends body as a request on c and returns an error unless the
// reply is body itself (the rep echoes).
func roundTrip(ctx context.Context, c sockets.Conn, body []byte) error {
	if err := c.Send(ctx, body, sockets.Raw); err != nil {
		return fmt.Errorf("send %q: %w", body, err)
	}
	got, err := sockets.RecvAs[[]byte](ctx, c, sockets.Raw)
	if err != nil {
		return fmt.Errorf("reply to %q: %w", body, err)
	}
	if string(got) != string(body) {
		return fmt.Errorf("reply to %q: got %q", body, got)
	}
	return nil
}

// body returns a request body of n bytes starting with name.
func body(name string, n int) []byte {
	b := []byte(name + ":")
	for len(b) < n {
		b = append(b, byte('a'+len(b)%26))
	}
	return b
}

// A connection cut in the middle of a request or a reply (or as the reply
// starts) loses that message; the req redials through the proxy, sends
// the request again on the new connection, and the reply arrives.
func TestFaultReqRepCut(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		dir  testkit.Direction
		n    int64
	}{
		{"reply cut mid-message", testkit.Down, lenPrefix + reqID + 10},
		{"reply cut 3 bytes in", testkit.Down, 3},
		{"reply cut before its first byte", testkit.Down, 0},
		{"request cut mid-message", testkit.Up, lenPrefix + reqID + 10},
	}
	for _, sc := range faultSchemes {
		for _, tc := range cases {
			t.Run(sc.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				reqRepCut(t, sc, tc.dir, tc.n)
			})
		}
	}
}

func reqRepCut(t *testing.T, sc faultScheme, dir testkit.Direction, n int64) {
	r := newReqRep(t, sc)
	ctx := ctxT(t)
	if err := roundTrip(ctx, r.req, body("warm", 64)); err != nil {
		t.Fatal(err)
	}
	if armed := r.p.CutAfter(dir, n); armed != 1 {
		t.Fatalf("armed %d connections", armed)
	}
	if err := roundTrip(ctx, r.req, body("through the cut", 64)); err != nil {
		t.Fatal(err)
	}
	if s := r.p.Stats(); s.Cut != 1 || s.Accepted < 2 {
		t.Fatalf("the request was answered without a cut and a reconnection: %+v", s)
	}
	// The new connection carries on.
	if err := roundTrip(ctx, r.req, body("after", 64)); err != nil {
		t.Fatal(err)
	}
}

// A req whose only connection dies with a request outstanding sends it
// again as soon as it has reconnected, as NNG does, not a whole
// req:resend-time later (here a minute, so waiting for it would fail the
// test).
func TestFaultReqRepResendOnReconnect(t *testing.T) {
	t.Parallel()
	for _, sc := range faultSchemes {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := newReqRep(t, sc)
			if err := sockets.Set(r.req, sockets.ResendTime, time.Minute); err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			if err := roundTrip(ctx, r.req, body("warm", 16)); err != nil {
				t.Fatal(err)
			}
			r.p.CutAfter(testkit.Down, 0)
			if err := roundTrip(ctx, r.req, body("lost reply", 16)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A connection cut in the middle of its handshake (the SP header on tcp,
// the websocket upgrade request, the TLS client hello) fails only that
// connection: the req redials and its request is answered.
func TestFaultReqRepHandshakeCut(t *testing.T) {
	t.Parallel()
	for _, sc := range faultSchemes {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			// The first bytes the req sends wait in the stalled proxy
			// until the connection is armed to be cut after 4 of them.
			r := newReqRepWith(t, sc, func(p *testkit.FaultProxy) { p.Stall(testkit.Up) })
			if n := r.p.CutAfter(testkit.Up, 4); n != 1 {
				t.Fatalf("armed %d connections", n)
			}
			r.p.Resume(testkit.Up)
			ctx := ctxT(t)
			if err := roundTrip(ctx, r.req, body("after a cut handshake", 32)); err != nil {
				t.Fatal(err)
			}
			if s := r.p.Stats(); s.Cut != 1 || s.Accepted < 2 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// With latency on the path, concurrent requests from several contexts
// each get their own reply.
func TestFaultReqRepDelay(t *testing.T) {
	t.Parallel()
	r := newReqRep(t, faultSchemes[0])
	r.p.SetDelay(testkit.Both, 15*time.Millisecond)
	ctx := ctxT(t)
	const contexts, rounds = 4, 5
	errs := make(chan error, contexts)
	var wg sync.WaitGroup
	for i := range contexts {
		c, err := r.req.Context()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		wg.Go(func() {
			for j := range rounds {
				if err := roundTrip(ctx, c, body(fmt.Sprintf("ctx%d/round%d", i, j), 32+i*100)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := r.p.Stats(); s.Cut != 0 || s.Down < contexts*rounds*32 {
		t.Fatalf("stats %+v", s)
	}
}

// A stalled path holds the request (no reply comes, nothing closes);
// cutting the stalled connection and lifting the stall lets the req
// reconnect and get its reply.
func TestFaultReqRepStallThenCut(t *testing.T) {
	t.Parallel()
	r := newReqRep(t, faultSchemes[0])
	ctx := ctxT(t)
	if err := roundTrip(ctx, r.req, body("warm", 16)); err != nil {
		t.Fatal(err)
	}
	r.p.Stall(testkit.Both)
	done := make(chan error, 1)
	go func() { done <- roundTrip(ctx, r.req, body("stalled", 128)) }()
	// No event marks "nothing arrived": give the stalled request longer
	// than its resend time.
	quietFor := time.NewTimer(400 * time.Millisecond)
	defer quietFor.Stop()
	select {
	case err := <-done:
		t.Fatalf("round trip ended through a stalled path: %v", err)
	case <-quietFor.C:
	}
	if n := r.p.CutAll(); n != 1 {
		t.Fatalf("cut %d connections", n)
	}
	r.p.Resume(testkit.Both)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("no reply after the cut")
	}
	if s := r.p.Stats(); s.Accepted < 2 {
		t.Fatalf("stats %+v", s)
	}
}

// While the proxy refuses new connections, a req whose connection was
// cut keeps redialing; once the proxy lets it in, its request goes out on
// the new connection and the reply arrives.
func TestFaultReqRepRefusedRedial(t *testing.T) {
	t.Parallel()
	r := newReqRep(t, faultSchemes[0])
	ctx := ctxT(t)
	if err := roundTrip(ctx, r.req, body("warm", 16)); err != nil {
		t.Fatal(err)
	}
	r.p.Refuse(time.Hour)
	r.p.CutAll()
	done := make(chan error, 1)
	go func() { done <- roundTrip(ctx, r.req, body("refused", 40)) }()
	// The proxy counts refusals but signals none: poll.
	eventually(t, "three refused redials", func() bool { return r.p.Stats().Refused >= 3 })
	select {
	case err := <-done:
		t.Fatalf("round trip ended while every connection was refused: %v", err)
	default:
	}
	r.p.Refuse(0)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("no reply once connections were let in")
	}
}

// A second connection replaying the req's handshake and first request
// (a duplicated connection) gives the rep a second pipe and a duplicate
// request, which it answers on that pipe; the req does not see it and
// goes on as before.
func TestFaultReqRepDuplicate(t *testing.T) {
	t.Parallel()
	r := newReqRep(t, faultSchemes[0])
	ctx := ctxT(t)
	first := body("first", 48)
	if err := roundTrip(ctx, r.req, first); err != nil {
		t.Fatal(err)
	}
	events := pipeEvents(t, r.rep)
	nextPipeEvent(t, events, true) // the req's connection, already up
	if n, err := r.p.Duplicate(-1); n != 1 || err != nil {
		t.Fatalf("duplicated %d: %v", n, err)
	}
	nextPipeEvent(t, events, true) // the duplicate
	for i := range 5 {
		if err := roundTrip(ctx, r.req, body(fmt.Sprintf("next%d", i), 48)); err != nil {
			t.Fatal(err)
		}
	}
	// What the rep answered on the duplicate went down a connection that
	// discards it; the req's own connection is the only one forwarded.
	if s := r.p.Stats(); s.Accepted != 1 || s.Cut != 0 {
		t.Fatalf("stats %+v", s)
	}
	// The duplicate goes with its original: the rep loses both pipes (the
	// req then redials, which adds one).
	r.p.CutAll()
	for removed := 0; removed < 2; {
		select {
		case ev := <-events:
			if !ev.Added {
				removed++
			}
		case <-ctx.Done():
			t.Fatalf("the rep lost %d pipe(s), want 2", removed)
		}
	}
}

// pubMsg is message seq of the pub/sub tests: the sequence number, then a
// pattern that depends on it, 300 bytes in all, so that a fragment or a
// splice of two messages does not pass wantPubMsg.
func pubMsg(seq uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, seq)
	for len(b) < 300 {
		b = append(b, byte(seq*7+uint64(len(b))))
	}
	return b
}

// wantPubMsg returns the sequence number of b, failing the test unless b
// is a whole message pubMsg made.
func wantPubMsg(t *testing.T, b []byte) uint64 {
	t.Helper()
	if len(b) != 300 {
		t.Fatalf("received %d bytes, not a whole message: % x", len(b), b[:min(len(b), 16)])
	}
	seq := binary.BigEndian.Uint64(b)
	wantBytes(t, fmt.Sprintf("message %d", seq), b, pubMsg(seq))
	return seq
}

// pipeEvents returns the pipe events of s, in order (buffered: the
// socket's actor must never wait on the test).
func pipeEvents(t *testing.T, s *sockets.Socket) <-chan sockets.PipeEvent {
	t.Helper()
	ch := make(chan sockets.PipeEvent, 256)
	stop, err := s.WatchPipes(func(ev sockets.PipeEvent) {
		select {
		case ch <- ev:
		default: // more than 256 events: the test has failed already
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return ch
}

// nextPipeEvent waits for the next pipe event and checks it is an
// addition (added) or a removal.
func nextPipeEvent(t *testing.T, ch <-chan sockets.PipeEvent, added bool) {
	t.Helper()
	tm := time.NewTimer(opLimit)
	defer tm.Stop()
	select {
	case ev := <-ch:
		if ev.Added != added {
			t.Fatalf("pipe event %+v, want added=%v", ev, added)
		}
	case <-tm.C:
		t.Fatalf("no pipe event (added=%v) within %v", added, opLimit)
	}
}

// A sub behind a proxy whose connection is cut in the middle of a message
// never receives a fragment of it, redials, and receives every message
// the pub sends once the new connection is up; three times over.
func TestFaultPubSubCut(t *testing.T) {
	t.Parallel()
	for _, sc := range faultSchemes {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			pubSubCut(t, sc)
		})
	}
}

func pubSubCut(t *testing.T, sc faultScheme) {
	pub := open(t, sockets.Pub)
	events := pipeEvents(t, pub)
	p, url, dopts := proxied(t, pub, sc)
	sub := open(t, sockets.Sub)
	if err := sub.Subscribe(""); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Dial(url, dopts...); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	nextPipeEvent(t, events, true)
	var seq uint64
	batch := func(n int) {
		t.Helper()
		first := seq
		for range n {
			send(t, ctx, pub, pubMsg(seq))
			seq++
		}
		for i := range uint64(n) {
			if got := wantPubMsg(t, recvBytes(t, ctx, sub)); got != first+i {
				t.Fatalf("received message %d, want %d", got, first+i)
			}
		}
	}
	batch(5)
	for round := range 3 {
		// The cut falls inside the next message's body.
		if n := p.CutAfter(testkit.Down, lenPrefix+20+int64(round)*50); n != 1 {
			t.Fatalf("round %d: armed %d connections", round, n)
		}
		send(t, ctx, pub, pubMsg(seq)) // lost: cut in the middle
		seq++
		nextPipeEvent(t, events, false)
		nextPipeEvent(t, events, true)
		batch(10)
	}
	if m, err := sub.Recv(sockets.NonBlock(ctx)); !errors.Is(err, nanoact.ErrTryAgain) {
		t.Fatalf("an extra message came: %v, %v", m, err)
	}
	if s := p.Stats(); s.Cut != 3 || s.Accepted != 4 {
		t.Fatalf("stats %+v", s)
	}
}

// A subscriber's connection stalls while the pub sends far more than
// the path holds: the pub drops what does not fit (it never blocks), and
// once the stall lifts the subscriber catches up. Every message it gets
// is whole and newer than the one before.
func TestFaultPubSubStall(t *testing.T) {
	t.Parallel()
	pub := open(t, sockets.Pub)
	events := pipeEvents(t, pub)
	p, url, _ := proxied(t, pub, faultSchemes[0])
	sub := open(t, sockets.Sub)
	if err := sub.Subscribe(""); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Dial(url); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	nextPipeEvent(t, events, true)
	p.Stall(testkit.Down)
	const flood = 3000 // 900 KB: more than the proxy, the kernel and the queues hold
	var seq uint64
	for ; seq < flood; seq++ {
		send(t, ctx, pub, pubMsg(seq))
	}
	p.Resume(testkit.Down)
	// The pub's queue to this subscriber may still be full when the stall
	// lifts, so markers go out until one arrives.
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		for m := uint64(flood); ; m++ {
			select {
			case <-stop:
				sent <- nil
				return
			default:
			}
			if err := pub.Send(ctx, pubMsg(m), sockets.Raw); err != nil {
				sent <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-sent; err != nil {
			t.Errorf("pub send: %v", err)
		}
	}()
	last, got := -1, 0
	for {
		seq := wantPubMsg(t, recvBytes(t, ctx, sub))
		if int(seq) <= last {
			t.Fatalf("message %d after %d", seq, last)
		}
		last, got = int(seq), got+1
		if seq >= flood {
			break
		}
	}
	if s := p.Stats(); s.Cut != 0 || s.Accepted != 1 {
		t.Fatalf("stats %+v", s)
	}
	t.Logf("%d of %d stalled messages reached the subscriber", got-1, flood)
}

// Tasks over daemons whose path has latency all come back right, each
// exactly once.
func TestFaultTaskRunnerDelay(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	reg := runner.NewRegistry()
	var mu sync.Mutex
	runs := make(map[int]int)
	twice := runner.Register(reg, "twice", func(_ context.Context, n int) (int, error) {
		mu.Lock()
		runs[n]++
		mu.Unlock()
		return 2 * n, nil
	})
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := testkit.NewFaultProxy(t, strings.TrimPrefix(d.URL(), "tcp://"))
	p.SetDelay(testkit.Both, 5*time.Millisecond)
	exits := make(chan error, 2)
	for i := range 2 {
		go func() {
			exits <- runner.RunDaemon(context.Background(), reg, p.URL(), runner.WithToken(d.Token()),
				runner.WithDaemonID(fmt.Sprintf("slow-%d", i)), runner.WithConcurrency(2))
		}()
	}
	if err := d.WaitDaemons(ctx, 2); err != nil {
		t.Fatal(err)
	}
	in := make([]int, 40)
	for i := range in {
		in[i] = i
	}
	out, err := twice.Map(ctx, d, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != 2*i {
			t.Fatalf("task %d: %d", i, v)
		}
	}
	mu.Lock()
	for i := range in {
		if runs[i] != 1 {
			t.Errorf("task %d ran %d times", i, runs[i])
		}
	}
	mu.Unlock()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-exits:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(opLimit):
			t.Fatal("a daemon did not exit after the dispatcher closed")
		}
	}
}

// sqDispatcherBehindProxy opens a tcp dispatcher (closed at cleanup) with
// a fault proxy in front of it, and a registry holding one task, sq.
func sqDispatcherBehindProxy(t *testing.T) (*runner.Dispatcher, *runner.Registry, runner.Task[int, int], *testkit.FaultProxy) {
	t.Helper()
	reg := runner.NewRegistry()
	sq := runner.Register(reg, "sq", func(_ context.Context, n int) (int, error) { return n * n, nil })
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, reg, sq, testkit.NewFaultProxy(t, strings.TrimPrefix(d.URL(), "tcp://"))
}

// closeAndWaitDaemon closes d and checks that the daemon whose Run error
// exit carries leaves cleanly within opLimit.
func closeAndWaitDaemon(t *testing.T, d *runner.Dispatcher, exit <-chan error) {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exit:
		if err != nil {
			t.Fatalf("daemon: %v", err)
		}
	case <-time.After(opLimit):
		t.Fatal("the daemon did not exit after the dispatcher closed")
	}
}

// A daemon's hello cut in the middle (the dispatcher gets the SP header
// and five bytes of the hello, then the connection ends) costs only that
// connection: the daemon redials, joins and runs tasks; nothing counts it
// as a daemon, refused or silent.
func TestFaultTaskRunnerHelloCut(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	d, reg, sq, p := sqDispatcherBehindProxy(t)
	// Everything the daemon sends waits in the stalled proxy until its
	// connection is armed.
	p.Stall(testkit.Up)
	exit := make(chan error, 1)
	go func() {
		exit <- runner.RunDaemon(context.Background(), reg, p.URL(), runner.WithToken(d.Token()),
			runner.WithDaemonID("cut-hello"), runner.WithReconnectInterval(10*time.Millisecond))
	}()
	if err := p.WaitConns(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := p.CutAfter(testkit.Up, lenPrefix+5); n != 1 {
		t.Fatalf("armed %d connections", n)
	}
	p.Resume(testkit.Up)
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := sq.Submit(ctx, d, 9).Value(ctx); err != nil || v != 81 {
		t.Fatalf("task: %d, %v", v, err)
	}
	s, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ps := p.Stats(); ps.Cut != 1 || ps.Accepted != 2 {
		t.Fatalf("proxy stats %+v", ps)
	}
	if s.Connections != 1 || s.Refused != 0 || s.Silent != 0 || s.Lost != 0 || len(s.Daemons) != 1 {
		t.Fatalf("status:\n%s", s)
	}
	closeAndWaitDaemon(t, d, exit)
}

// A daemon whose connection stalls (it stops reading, as a hung machine
// does) holds only the tasks written to it: the dispatcher's writes to it
// back up without blocking anyone else (what it cannot write goes to
// another daemon), other daemons are served, the held tasks end by their
// TaskTimeout, and once the path clears the stalled daemon finishes them
// and Status adds up.
func TestFaultTaskRunnerStalledDaemon(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	reg := runner.NewRegistry()
	size := runner.Register(reg, "size", func(_ context.Context, b []byte) (int, error) { return len(b), nil })
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := testkit.NewFaultProxy(t, strings.TrimPrefix(d.URL(), "tcp://"))
	type exit struct {
		id  string
		err error
	}
	exits := make(chan exit, 2)
	run := func(id, url string, opts ...runner.DaemonOption) {
		go func() {
			exits <- exit{id, runner.RunDaemon(context.Background(), reg, url, append([]runner.DaemonOption{
				runner.WithToken(d.Token()), runner.WithDaemonID(id)}, opts...)...)}
		}()
	}
	const stalled = 32
	// A short grace: the dispatcher's bye may not get through the
	// stalled path in time, and the daemon then gives up on its own.
	// Its receive limit is set, so that no default limit is in the way
	// of the 256 KiB task frames below.
	run("stalled", p.URL(), runner.WithConcurrency(stalled), runner.WithReconnectGrace(200*time.Millisecond),
		runner.WithSocketOptions(sockets.WithRecvSizeMax(1<<20)))
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p.Stall(testkit.Down)
	// 8 MiB of arguments: more than the proxy and the kernel's buffers
	// hold, so the dispatcher's sends to the daemon back up.
	big := make([]byte, 256<<10)
	var stuck []*aio.Aio[int]
	for range stalled {
		stuck = append(stuck, size.Submit(ctx, d, big, runner.TaskTimeout(2*time.Second)))
	}
	run("direct", d.URL())
	if err := d.WaitDaemons(ctx, 2); err != nil {
		t.Fatal(err)
	}
	const served = 20
	for i := range served {
		if v, err := size.Submit(ctx, d, make([]byte, i)).Value(ctx); err != nil || v != i {
			t.Fatalf("task %d beside the stalled daemon: %d, %v", i, v, err)
		}
	}
	// A task the dispatcher could not write to the stalled connection
	// (its queue full) went back to the queue and then to "direct"; the
	// others stay on the stalled daemon until their time-out.
	timedOut := 0
	for i, a := range stuck {
		v, err := a.Value(ctx)
		switch {
		case errors.Is(err, nanoact.ErrTimedOut):
			timedOut++
		case err != nil || v != len(big):
			t.Fatalf("stalled task %d: %d, %v; want ErrTimedOut or %d", i, v, err, len(big))
		}
	}
	if timedOut == 0 {
		t.Fatal("no task was held by the stalled daemon")
	}
	p.Resume(testkit.Down)
	var s runner.Status
	eventually(t, "the stalled daemon finishes its tasks", func() bool {
		s, err = d.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s.Executing == 0
	})
	if s.Submitted != stalled+served || s.Completed != int64(stalled+served-timedOut) || s.Canceled != int64(timedOut) || s.Failed != 0 ||
		s.Queued != 0 || s.Lost != 0 || s.Connections != 2 {
		t.Fatalf("status:\n%s", s)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case e := <-exits:
			if e.err != nil && !(e.id == "stalled" && errors.Is(e.err, nanoact.ErrConnShut)) {
				t.Errorf("daemon %s: %v", e.id, e.err)
			}
		case <-time.After(opLimit):
			t.Fatal("a daemon did not exit after the dispatcher closed")
		}
	}
}

// The task runner through the proxy: daemon "cut" dials through it and is
// cut off while running two tasks, one that may be re-queued and one that
// may not; daemon "direct" dials the dispatcher itself. The re-queued
// task completes on "direct", the other fails with ErrConnReset, tasks
// submitted meanwhile are served, "cut" comes back once the proxy lets
// it, and Status adds up.
func TestFaultTaskRunnerCut(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// cut cuts the proxied daemon's connection; release lets its
		// running tasks return.
		cut func(p *testkit.FaultProxy, release func())
	}{
		{"cut at once", func(p *testkit.FaultProxy, _ func()) { p.CutAll() }},
		{"result cut mid-message", func(p *testkit.FaultProxy, release func()) {
			p.CutAfter(testkit.Up, lenPrefix+5)
			release()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { t.Parallel(); taskRunnerCut(t, tc.cut) })
	}
}

func taskRunnerCut(t *testing.T, cut func(p *testkit.FaultProxy, release func())) {
	ctx := ctxT(t)
	// Each daemon has its own registry, so that a task tells where it
	// ran: "cut" holds its tasks until released.
	started := make(chan int, 8)
	releaseCh := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(releaseCh) }) }
	t.Cleanup(release)
	regCut := runner.NewRegistry()
	work := runner.Register(regCut, "work", func(ctx context.Context, n int) (string, error) {
		started <- n
		select {
		case <-releaseCh:
		case <-ctx.Done():
		}
		return fmt.Sprintf("cut:%d", n), nil
	})
	regDirect := runner.NewRegistry()
	runner.Register(regDirect, "work", func(_ context.Context, n int) (string, error) {
		return fmt.Sprintf("direct:%d", n), nil
	})

	var dbgBuf lockedBuf
	dbg := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&dbgBuf), zap.DebugLevel))
	t.Cleanup(func() {
		if t.Failed() {
			dbgBuf.mu.Lock()
			t.Log(dbgBuf.b.String())
			dbgBuf.mu.Unlock()
		}
	})
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0", runner.WithLogger(dbg.Named("disp")))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := testkit.NewFaultProxy(t, strings.TrimPrefix(d.URL(), "tcp://"))
	type exit struct {
		id  string
		err error
	}
	exits := make(chan exit, 2)
	run := func(id string, reg *runner.Registry, url string, opts ...runner.DaemonOption) {
		go func() {
			err := runner.RunDaemon(context.Background(), reg, url, append([]runner.DaemonOption{
				runner.WithToken(d.Token()), runner.WithDaemonID(id), runner.WithLogger(dbg.Named(id)), runner.WithReconnectInterval(10 * time.Millisecond)}, opts...)...)
			exits <- exit{id, err}
		}()
	}
	run("cut", regCut, p.URL(), runner.WithConcurrency(2))
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	failing := work.Submit(ctx, d, 1)
	requeued := work.Submit(ctx, d, 2, runner.Requeue(1))
	for range 2 {
		select {
		case <-started:
		case <-ctx.Done():
			t.Fatal("the tasks did not start on daemon cut")
		}
	}
	run("direct", regDirect, d.URL())
	if err := d.WaitDaemons(ctx, 2); err != nil {
		t.Fatal(err)
	}

	// Daemon "cut" may not come back until told.
	p.Refuse(time.Hour)
	cut(p, release)
	if v, err := requeued.Value(ctx); err != nil || v != "direct:2" {
		t.Fatalf("re-queued task: %q, %v", v, err)
	}
	_, err = failing.Value(ctx)
	if !errors.Is(err, nanoact.ErrConnReset) {
		t.Fatalf("task on the lost connection: %v, want ErrConnReset", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "work") || !strings.Contains(msg, "cut") {
		t.Fatalf("the error does not name the task and its daemon: %v", err)
	}
	// The dispatcher serves other tasks meanwhile.
	more := make([]*aio.Aio[string], 6)
	for i := range more {
		more[i] = work.Submit(ctx, d, 10+i)
	}
	vals, errs := aio.CollectAll(ctx, more)
	if errs != nil {
		t.Fatal(errors.Join(errs...))
	}
	for i, v := range vals {
		if v != fmt.Sprintf("direct:%d", 10+i) {
			t.Fatalf("task %d: %q", 10+i, v)
		}
	}

	// "cut" comes back (its tasks were cancelled when it lost the
	// connection; release lets them return at once either way).
	release()
	p.Refuse(0)
	if err := d.WaitDaemons(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitConns(ctx, 1); err != nil {
		t.Fatal(err)
	}

	// The counters settle once the dispatcher's actor has seen every
	// result (no event marks that: poll).
	const submitted = 2 + 6
	var s runner.Status
	eventually(t, "status settles", func() bool {
		s, err = d.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s.Completed+s.Failed+s.Canceled == submitted && s.Queued == 0 && s.Executing == 0
	})
	if s.Submitted != submitted || s.Completed != submitted-1 || s.Failed != 1 || s.Canceled != 0 ||
		s.Requeued != 1 || s.Lost != 1 || s.Connections != 2 {
		t.Fatalf("status:\n%s", s)
	}
	var completed, failed int64
	online := 0
	for _, ds := range s.Daemons {
		completed += ds.Completed
		failed += ds.Failed
		if ds.Online {
			online++
		}
	}
	if completed != s.Completed || failed != s.Failed || online != 2 {
		t.Fatalf("per-daemon counts do not add up:\n%s", s)
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case e := <-exits:
			if e.err != nil {
				t.Errorf("daemon %s: %v", e.id, e.err)
			}
		case <-time.After(opLimit):
			t.Fatal("a daemon did not exit after the dispatcher closed")
		}
	}
}

// A daemon whose connection dies on its side only (the dispatcher still
// holds its end, half-open, as behind a NAT that timed out) redials and
// joins again under its id: it takes the id over from its own half-open
// connection, the refusal sent there reaches nobody, and the daemon runs
// on without an error; the dispatcher closes the half-open connection
// after the hello time-out.
func TestFaultTaskRunnerHalfOpenRedial(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	reg := runner.NewRegistry()
	sq := runner.Register(reg, "sq", func(_ context.Context, n int) (int, error) { return n * n, nil })
	core, logs := observer.New(zap.WarnLevel)
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0", runner.WithHelloTimeout(300*time.Millisecond), runner.WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := testkit.NewFaultProxy(t, strings.TrimPrefix(d.URL(), "tcp://"))
	exit := make(chan error, 1)
	go func() {
		exit <- runner.RunDaemon(context.Background(), reg, p.URL(), runner.WithToken(d.Token()),
			runner.WithDaemonID("nat"), runner.WithReconnectInterval(10*time.Millisecond))
	}()
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := sq.Submit(ctx, d, 3).Value(ctx); err != nil || v != 9 {
		t.Fatalf("task before: %d, %v", v, err)
	}
	if n := p.Abandon(); n != 1 {
		t.Fatalf("abandoned %d connections", n)
	}
	var s runner.Status
	eventually(t, "the daemon joins again", func() bool {
		s, _ = d.Status(ctx)
		return s.Replaced == 1 && s.Connections == 1
	})
	for i := range 5 {
		if v, err := sq.Submit(ctx, d, i, runner.OnDaemon("nat")).Value(ctx); err != nil || v != i*i {
			t.Fatalf("OnDaemon(nat) %d after the redial: %d, %v", i, v, err)
		}
	}
	eventually(t, "the half-open connection closed", func() bool {
		return logs.FilterMessageSnippet("refused connection closed").Len() == 1
	})
	select {
	case err := <-exit:
		t.Fatalf("the daemon stopped: %v", err)
	default:
	}
	if s, err = d.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Connections != 1 || s.Replaced != 1 || s.Refused != 0 || s.Completed != 6 || len(s.Daemons) != 2 || !s.Daemons[0].Online {
		t.Fatalf("status:\n%s", s)
	}
	closeAndWaitDaemon(t, d, exit)
}

// A daemon's handshake and hello replayed on a second connection (a
// captured hello) is refused: the hello answers the first connection's
// challenge, not the replay's, so it joins nothing and swallows no task.
func TestFaultTaskRunnerReplayedHello(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	d, reg, sq, p := sqDispatcherBehindProxy(t)
	exit := make(chan error, 1)
	go func() {
		exit <- runner.RunDaemon(context.Background(), reg, p.URL(), runner.WithToken(d.Token()), runner.WithDaemonID("honest"))
	}()
	if err := d.WaitDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Duplicate(-1); n != 1 || err != nil {
		t.Fatalf("duplicated %d: %v", n, err)
	}
	var s runner.Status
	eventually(t, "the replay dealt with", func() bool {
		s, _ = d.Status(ctx)
		return s.Refused+s.Silent >= 1 || s.Connections >= 2
	})
	if s.Connections != 1 {
		t.Fatalf("a replayed hello joined:\n%s", s)
	}
	out, err := sq.Map(ctx, d, []int{1, 2, 3, 4, 5, 6, 7, 8})
	if err != nil || len(out) != 8 || out[7] != 64 {
		t.Fatalf("tasks: %v, %v", out, err)
	}
	closeAndWaitDaemon(t, d, exit)
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
