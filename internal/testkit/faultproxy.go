package testkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Direction names one way through a FaultProxy: Up is what the client
// (the side that dialed the proxy) sends toward the target, Down what the
// target sends back. Directions combine as bits.
type Direction uint8

const (
	// Up is client → target.
	Up Direction = 1 << iota
	// Down is target → client.
	Down
	// Both is Up and Down.
	Both = Up | Down
)

// String returns "up", "down", "both" or "none".
func (d Direction) String() string {
	switch d & Both {
	case Up:
		return "up"
	case Down:
		return "down"
	case Both:
		return "both"
	}
	return "none"
}

// dirs lists the single directions, indexed as FaultProxy's arrays are.
var dirs = [2]Direction{Up, Down}

func index(d Direction) int {
	if d == Down {
		return 1
	}
	return 0
}

// replayCap bounds the bytes a connection records from its client for
// Duplicate.
const replayCap = 64 << 10

// FaultProxy is a TCP proxy for tests that injects faults on purpose. It
// listens on a loopback port of its own (port 0) and forwards every
// connection it accepts to a target address over a new connection of its
// own, byte for byte, until told otherwise. The test goroutine steers it
// while it runs, per direction where that makes sense:
//
//   - SetDelay holds every chunk read for a fixed latency before it is
//     written on;
//   - Stall stops forwarding without closing anything, Resume goes on;
//   - CutAfter closes each current connection after n more bytes in a
//     direction (0: at its next byte), which cuts a message in the middle;
//     CutAll closes every current connection at once;
//   - Refuse accepts and at once resets new connections for a while;
//   - Duplicate opens a second connection to the target for each current
//     one and replays on it the first bytes the client sent (an SP
//     handshake, a hello), then discards what the target answers;
//   - Abandon closes the client's end of each current connection and
//     keeps the target's end open and silent: a half-open connection, as
//     a peer that vanished behind a NAT leaves.
//
// Faults set by SetDelay, Stall and Refuse apply to every connection,
// current and future; CutAfter, CutAll, Duplicate and Abandon act on the
// connections live when they are called. To fault a connection's first
// bytes (a handshake), Stall before it connects, arm it, then Resume.
//
//	p := testkit.NewFaultProxy(t, "127.0.0.1:5555") // the listener's address
//	req.Dial(p.URL())                               // instead of the listener's URL
//	p.CutAfter(testkit.Down, 12)                    // the next reply ends 12 bytes in
//
// Every method is safe for concurrent use. A connection costs two
// goroutines (one per direction) and two 32 KiB buffers; a duplicate one
// goroutine more. A FaultProxy is made by NewFaultProxy and must be
// Closed (the test's cleanup does it); Close returns once every goroutine
// it started has exited.
type FaultProxy struct {
	ln     net.Listener
	target string
	life   context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	conns       map[*proxyConn]struct{}
	live        int
	delay       [2]time.Duration
	stalled     Direction
	refuseUntil time.Time
	changed     chan struct{} // closed and replaced on every change of the above
	accepted    int64
	refused     int64
	cuts        int64
	bytes       [2]int64
}

// NewFaultProxy starts a proxy on 127.0.0.1, port 0, forwarding to target
// ("host:port"), and closes it at the end of the test. It fails the test
// if it cannot listen. It does not check the target: a connection whose
// target refuses it is closed at once.
func NewFaultProxy(tb testing.TB, target string) *FaultProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("fault proxy: listen: %v", err)
	}
	life, stop := context.WithCancel(context.Background())
	p := &FaultProxy{ln: ln, target: target, life: life, stop: stop,
		conns: make(map[*proxyConn]struct{}), changed: make(chan struct{})}
	p.wg.Go(p.accept)
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// Addr returns the address the proxy listens on, "127.0.0.1:port".
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// URL returns "tcp://" and Addr, the URL an SP dialer uses.
func (p *FaultProxy) URL() string { return "tcp://" + p.Addr() }

// Close stops accepting, closes every connection (both ends, and their
// duplicates) and returns once every goroutine of the proxy has exited.
// A second Close returns net.ErrClosed.
func (p *FaultProxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return net.ErrClosed
	}
	p.closed = true
	conns := p.snapshot()
	p.mu.Unlock()
	p.stop()
	err := p.ln.Close()
	for _, c := range conns {
		c.close(false)
	}
	p.wg.Wait()
	return err
}

// SetDelay makes every chunk read in dir wait d before it is written on
// (0: no delay, the default), on current and future connections. A chunk
// already waiting keeps the delay it started with. Since each direction
// forwards one chunk at a time, a stream of chunks is also slowed to one
// chunk (at most 32 KiB) per d.
func (p *FaultProxy) SetDelay(dir Direction, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range dirs {
		if dir&x != 0 {
			p.delay[i] = max(d, 0)
		}
	}
	p.changedLocked()
}

// Stall stops forwarding in dir on every connection, current and future,
// without closing any: bytes read stay in the proxy and, once its buffer
// is held, the sender's TCP window fills. Resume lifts it.
func (p *FaultProxy) Stall(dir Direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled |= dir & Both
	p.changedLocked()
}

// Resume lifts a Stall in dir; held bytes go on in order.
func (p *FaultProxy) Resume(dir Direction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled &^= dir
	p.changedLocked()
}

// CutAfter arms every current connection to be closed (both ends) once n
// more bytes have been forwarded in dir: the n-th byte is written, the
// rest of its chunk is dropped, and the connection closes. n = 0 closes a
// connection when its next byte arrives in dir, forwarding none. Arming a
// connection again replaces the count. It returns how many connections it
// armed; connections accepted later are not armed.
func (p *FaultProxy) CutAfter(dir Direction, n int64) int {
	p.mu.Lock()
	conns := p.snapshot()
	p.mu.Unlock()
	armed := 0
	for _, c := range conns {
		if c.arm(dir, max(n, 0)) {
			armed++
		}
	}
	return armed
}

// CutAll closes every current connection at once, both ends, and returns
// how many it closed. Bytes in flight inside the proxy are dropped.
func (p *FaultProxy) CutAll() int {
	p.mu.Lock()
	conns := p.snapshot()
	p.mu.Unlock()
	n := 0
	for _, c := range conns {
		if c.close(true) {
			n++
		}
	}
	return n
}

// Refuse makes the proxy reset every connection it accepts during the
// next d (a TCP RST right after accepting, which a dialer sees as a failed
// connection and retries); 0 or negative ends a refusal now. Current
// connections are left alone.
func (p *FaultProxy) Refuse(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d <= 0 {
		p.refuseUntil = time.Time{}
	} else {
		p.refuseUntil = time.Now().Add(d)
	}
	p.changedLocked()
}

// Duplicate opens, for every current connection, a second connection to
// the target and writes on it the first n bytes the client has sent so
// far (n < 0: all of those recorded, at most 64 KiB), as a peer that
// replays a captured handshake would. What the target sends on a
// duplicate is read and discarded; a duplicate closes with its original
// connection (and with CutAll and Close). It blocks for the dials and
// returns how many duplicates it opened; a connection that has not sent n
// bytes yet is skipped, and a failed dial or write is returned as an
// error.
func (p *FaultProxy) Duplicate(n int) (int, error) {
	p.mu.Lock()
	conns := p.snapshot()
	p.mu.Unlock()
	opened := 0
	var errs []error
	for _, c := range conns {
		ok, err := c.duplicate(n)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			opened++
		}
	}
	return opened, errors.Join(errs...)
}

// Abandon closes the client's end of every current connection and keeps
// its target's end open: the target sees a half-open connection (what it
// sends is read and dropped, nothing comes from the client any more), as
// after a NAT time-out or a pulled cable, while the client sees its
// connection end and may dial again. The target's end stays until the
// target closes it, or CutAll or Close. It returns how many connections
// it abandoned (those whose target is connected); an abandoned
// connection no longer counts in Conns, nor is armed by CutAfter.
func (p *FaultProxy) Abandon() int {
	p.mu.Lock()
	conns := p.snapshot()
	p.mu.Unlock()
	n := 0
	for _, c := range conns {
		if c.abandon() {
			n++
		}
	}
	return n
}

// Conns returns how many connections are being forwarded now (accepted,
// their target connected, not closed, not abandoned).
func (p *FaultProxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}

// WaitConns blocks until exactly n connections are being forwarded (see
// Conns), or ctx ends (its error is returned), or the proxy closes
// (net.ErrClosed). It waits on the proxy's own events, not by polling.
func (p *FaultProxy) WaitConns(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		live, closed, ch := p.live, p.closed, p.changed
		p.mu.Unlock()
		switch {
		case live == n:
			return nil
		case closed:
			return net.ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fault proxy: %d connection(s), want %d: %w", live, n, ctx.Err())
		}
	}
}

// ProxyStats counts what a FaultProxy did.
type ProxyStats struct {
	// Accepted counts connections forwarded (target reached), Refused
	// those reset by Refuse or because the target refused them, Cut
	// those closed by CutAfter or CutAll.
	Accepted, Refused, Cut int64
	// Up and Down count the bytes forwarded each way.
	Up, Down int64
}

// Stats returns the proxy's counters.
func (p *FaultProxy) Stats() ProxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProxyStats{Accepted: p.accepted, Refused: p.refused, Cut: p.cuts, Up: p.bytes[0], Down: p.bytes[1]}
}

// snapshot returns the connections; p.mu is held.
func (p *FaultProxy) snapshot() []*proxyConn {
	out := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

// changedLocked wakes everyone waiting on a change; p.mu is held.
func (p *FaultProxy) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// accept is the accepting goroutine.
func (p *FaultProxy) accept() {
	for {
		cl, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = cl.Close()
			return
		}
		if time.Now().Before(p.refuseUntil) {
			p.refused++
			p.mu.Unlock()
			reset(cl)
			continue
		}
		c := &proxyConn{p: p, client: cl, done: make(chan struct{})}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(c.run)
	}
}

// reset closes c with an RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// waitFlowing waits while dir is stalled; false if done closed first.
func (p *FaultProxy) waitFlowing(dir Direction, done <-chan struct{}) bool {
	for {
		p.mu.Lock()
		stalled, ch := p.stalled&dir != 0, p.changed
		p.mu.Unlock()
		if !stalled {
			return true
		}
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

// proxyConn is one accepted connection and its connection to the target.
type proxyConn struct {
	p      *FaultProxy
	client net.Conn
	done   chan struct{} // closed by close

	mu        sync.Mutex
	closed    bool
	up        net.Conn   // to the target; nil until dialed
	dups      []net.Conn // duplicates to the target
	cut       [2]int64   // bytes left before a cut, per direction; armed[i] says whether set
	armed     [2]bool
	initial   []byte // the first bytes the client sent, for Duplicate
	countedUp bool   // counted in p.live
	abandoned bool   // the client's end closed, the target's kept (Abandon)
}

// run dials the target, then forwards both ways until either side ends.
func (c *proxyConn) run() {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(c.p.life, 10*time.Second)
	up, err := d.DialContext(ctx, "tcp", c.p.target)
	cancel()
	p := c.p
	if err != nil {
		p.mu.Lock()
		p.refused++
		p.mu.Unlock()
		reset(c.client)
		c.close(false)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = up.Close()
		return
	}
	c.up = up
	c.countedUp = true
	c.mu.Unlock()
	p.mu.Lock()
	p.accepted++
	p.live++
	p.changedLocked()
	p.mu.Unlock()
	p.wg.Go(func() { c.pump(Down, up, c.client) })
	c.pump(Up, c.client, up)
}

// pump forwards src to dst in direction dir until a read or write fails
// or a fault closes the connection, and then closes it; but the end of
// an abandoned connection's client leaves its target's end open.
func (c *proxyConn) pump(dir Direction, src, dst net.Conn) {
	defer func() {
		if dir == Up && c.isAbandoned() {
			return
		}
		c.close(false)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.forward(dir, dst, buf[:n]) {
			return
		}
		if err != nil {
			return
		}
	}
}

// forward writes b to dst after the faults of dir; false when the
// connection is to end.
func (c *proxyConn) forward(dir Direction, dst net.Conn, b []byte) bool {
	p, i := c.p, index(dir)
	if dir == Down && c.isAbandoned() {
		return true // the client is gone: the target's bytes are dropped
	}
	if !p.waitFlowing(dir, c.done) {
		return false
	}
	p.mu.Lock()
	d := p.delay[i]
	p.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return false
		}
		// A stall set during the delay holds the chunk too.
		if !p.waitFlowing(dir, c.done) {
			return false
		}
	}
	c.mu.Lock()
	cutNow := false
	if c.armed[i] {
		if int64(len(b)) >= c.cut[i] {
			b, cutNow = b[:c.cut[i]], true
		} else {
			c.cut[i] -= int64(len(b))
		}
	}
	if dir == Up && len(c.initial) < replayCap {
		c.initial = append(c.initial, b[:min(len(b), replayCap-len(c.initial))]...)
	}
	c.mu.Unlock()
	if len(b) > 0 {
		// Counted before the write, so that whoever reads the bytes sees
		// them counted; what a failed write did not send is taken back.
		p.mu.Lock()
		p.bytes[i] += int64(len(b))
		p.mu.Unlock()
		n, err := dst.Write(b)
		if err != nil {
			p.mu.Lock()
			p.bytes[i] -= int64(len(b) - n)
			p.mu.Unlock()
			// A write to the client that Abandon cut short: the target's
			// end stays.
			return dir == Down && c.isAbandoned()
		}
	}
	if cutNow {
		c.close(true)
		return false
	}
	return true
}

// arm sets a cut after n more bytes in dir; false if c is closed or
// abandoned.
func (c *proxyConn) arm(dir Direction, n int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.abandoned {
		return false
	}
	for i, x := range dirs {
		if dir&x != 0 {
			c.cut[i], c.armed[i] = n, true
		}
	}
	return true
}

// duplicate opens one duplicate of c replaying its first n client bytes.
func (c *proxyConn) duplicate(n int) (bool, error) {
	c.mu.Lock()
	if c.closed || c.up == nil || n > len(c.initial) {
		c.mu.Unlock()
		return false, nil
	}
	if n < 0 {
		n = len(c.initial)
	}
	replay := append([]byte(nil), c.initial[:n]...)
	c.mu.Unlock()
	var d net.Dialer
	ctx, cancel := context.WithTimeout(c.p.life, 10*time.Second)
	dup, err := d.DialContext(ctx, "tcp", c.p.target)
	cancel()
	if err != nil {
		return false, fmt.Errorf("fault proxy: duplicate: %w", err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = dup.Close()
		return false, nil
	}
	c.dups = append(c.dups, dup)
	// Started under c.mu so that close, which takes c.mu, cannot have
	// waited for the group before this goroutine is counted in it.
	c.p.wg.Go(func() {
		_, _ = dup.Write(replay)
		buf := make([]byte, 4<<10)
		for {
			if _, err := dup.Read(buf); err != nil {
				return
			}
		}
	})
	c.mu.Unlock()
	return true, nil
}

// abandon closes c's client end and keeps its target's (Abandon); false
// if c is closed, abandoned already or its target not connected yet.
func (c *proxyConn) abandon() bool {
	c.mu.Lock()
	if c.closed || c.abandoned || c.up == nil {
		c.mu.Unlock()
		return false
	}
	// Set before the client's end closes, so that the pumps that see it
	// fail know to keep the target's end.
	c.abandoned = true
	counted := c.countedUp
	c.countedUp = false
	c.mu.Unlock()
	if counted {
		p := c.p
		p.mu.Lock()
		p.live--
		p.changedLocked()
		p.mu.Unlock()
	}
	_ = c.client.Close()
	return true
}

func (c *proxyConn) isAbandoned() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.abandoned
}

// close closes both ends and the duplicates; cut says a fault did it. It
// reports whether this call closed c.
func (c *proxyConn) close(cut bool) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	close(c.done)
	conns := append([]net.Conn{c.client, c.up}, c.dups...)
	counted := c.countedUp
	c.mu.Unlock()
	// Counted before the sockets close, so that whoever sees the close
	// sees the counters too.
	p := c.p
	p.mu.Lock()
	delete(p.conns, c)
	if counted {
		p.live--
	}
	if cut {
		p.cuts++
	}
	p.changedLocked()
	p.mu.Unlock()
	for _, x := range conns {
		if x != nil {
			_ = x.Close()
		}
	}
	return true
}
