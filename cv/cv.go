package cv

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/nanoact/nanoact"
)

// CV is nanonext's condition variable: a counter plus a broadcast, and a
// flag. Signal adds one to the counter and wakes every waiter; Wait and
// Until take one back. Aios signal it when they resolve (aio.Signal),
// aio.PipeNotify when connections come and go, supervisors (a Broadcaster)
// when a child joins, stops, restarts or fails.
//
// The flag: Arm (aio.PipeNotify with aio.PipeFlag) arms it, and the next
// Notify (a pipe event) raises it; Raise raises it, and so does a
// supervisor's Failed event. While it is raised Wait returns false, so a
// waiter learns that a peer went away or a child failed rather than that
// work arrived. Err gives the cause of a failure, Last the supervisor's
// latest event. Reset clears counter, flag, cause and event.
//
// Signalling never blocks; a Signal plus a Wait that finds the count
// costs about 15 ns and allocates nothing. A waiter that has to block
// costs one channel, shared by every waiter of the same round. A CV owns no goroutine. NewCV makes one; the zero value is
// also ready to use. A CV must not be copied after first use. Its methods
// are safe for concurrent use.
type CV struct {
	mu     sync.Mutex
	n      int
	flag   int8          // flagNone, flagArmed or flagRaised
	wake   chan struct{} // closed and dropped by each signal; made by waiters
	closed bool
	fwd    *forwarder // where this CV's signals are forwarded, if anywhere
	last   Event      // the latest supervisor event since Reset
	err    error      // the cause of the latest failure since Reset
}

const (
	flagNone   int8 = 0
	flagArmed  int8 = 1
	flagRaised int8 = -1
)

// New returns a new condition variable with counter 0 and no flag
// (nanonext's cv()). It never blocks and allocates one CV.
func New() *CV { return &CV{} }

// how a bump treats the flag
const (
	bumpPlain = iota // Signal
	bumpPipe         // Notify: raise the flag if armed
	bumpRaise        // Raise: raise the flag whatever it was
)

// bump adds one to the counter, wakes the waiters and returns the CV to
// forward the signal to, if any. On a closed CV it does nothing and
// returns nil, false.
func (c *CV) bump(how int) (next *CV, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bumpLocked(how)
}

// bumpLocked is bump with c.mu held.
func (c *CV) bumpLocked(how int) (next *CV, ok bool) {
	if c.closed {
		return nil, false
	}
	c.n++
	switch {
	case how == bumpRaise, how == bumpPipe && c.flag == flagArmed:
		c.flag = flagRaised
	}
	if c.wake != nil {
		close(c.wake)
		c.wake = nil
	}
	if c.fwd != nil {
		next = c.fwd.to
	}
	return next, true
}

// maxHops bounds a chain of forwarders, in case two Forward calls racing
// each other made a cycle that Forward's check could not see.
const maxHops = 64

// signal bumps c and then, as plain signals, every CV its forwarders lead
// to.
func (c *CV) signal(how int) {
	if next, ok := c.bump(how); ok {
		c.forward(next)
	}
}

// forward passes a signal of c on to next, the target of c's forwarder,
// and on down the chain. A forwarder whose target has been closed is
// dropped on the way.
func (c *CV) forward(next *CV) {
	cur := c
	for hops := 0; next != nil && next != c && hops < maxHops; hops++ {
		n, ok := next.bump(bumpPlain)
		if !ok {
			cur.dropForwardTo(next)
			return
		}
		cur, next = next, n
	}
}

// SignalAll signals each CV of cvs once, as Signal does, and runs mark
// inside the same critical section, with every CV's lock held (taken in
// address order; a CV listed twice is signalled once). An aio passes a
// mark that sets its resolved flag: whoever sees the aio resolved and then
// reads a CV finds it signalled, and whoever wakes on a CV and then looks
// at the aio finds it resolved. Forwarded signals follow after the locks
// are released. mark may be nil; it must not block or touch the CVs.
// SignalAll never blocks; with one CV it allocates nothing. Closed CVs
// and nil entries are skipped (mark still runs).
func SignalAll(mark func(), cvs ...*CV) {
	if len(cvs) == 1 && cvs[0] != nil {
		c := cvs[0]
		c.mu.Lock()
		if mark != nil {
			mark()
		}
		next, ok := c.bumpLocked(bumpPlain)
		c.mu.Unlock()
		if ok {
			c.forward(next)
		}
		return
	}
	sorted := make([]*CV, 0, len(cvs))
	for _, c := range cvs {
		if c != nil {
			sorted = append(sorted, c)
		}
	}
	slices.SortFunc(sorted, func(x, y *CV) int {
		return cmp.Compare(uintptr(unsafe.Pointer(x)), uintptr(unsafe.Pointer(y)))
	})
	sorted = slices.Compact(sorted)
	for _, c := range sorted {
		c.mu.Lock()
	}
	if mark != nil {
		mark()
	}
	nexts := make([]*CV, len(sorted))
	oks := make([]bool, len(sorted))
	for i, c := range sorted {
		nexts[i], oks[i] = c.bumpLocked(bumpPlain)
	}
	for _, c := range sorted {
		c.mu.Unlock()
	}
	for i, c := range sorted {
		if oks[i] {
			c.forward(nexts[i])
		}
	}
}

// Signal adds one to the counter and wakes every waiter (nanonext's
// cv_signal), then does the same on the CV it forwards to (Forward), and
// so on down the chain. It never blocks. On a closed CV it does nothing.
func (c *CV) Signal() { c.signal(bumpPlain) }

// Raise raises the flag and signals: the Wait that takes this signal, and
// every later Wait until Reset, returns false. It records no cause (Err
// stays as it was); a supervisor's Failed event raises with one.
// Forwarded signals are plain ones: the flag stays with this CV. It never
// blocks.
func (c *CV) Raise() { c.signal(bumpRaise) }

// Notify is Signal from an event source that may raise the flag: if Arm
// armed it, the flag is raised too (aio.PipeNotify calls it for each pipe
// event). It never blocks.
func (c *CV) Notify() { c.signal(bumpPipe) }

// Arm arms the flag (on) so that the next Notify raises it, or clears it
// whether armed or raised (off): aio.PipeNotify's PipeFlag. It never
// blocks.
func (c *CV) Arm(on bool) {
	c.mu.Lock()
	if on {
		c.flag = flagArmed
	} else {
		c.flag = flagNone
	}
	c.mu.Unlock()
}

// Wait blocks until the counter is above zero and takes one from it
// (nanonext's wait). It returns true, or false if the flag has been raised
// (Notify after Arm, Raise, or a supervisor's Failed event: Err tells
// which failure). It also returns false,
// without taking anything, if ctx ends first (check ctx.Err()) or the CV
// is closed.
func (c *CV) Wait(ctx context.Context) bool {
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			return false
		}
		if c.n > 0 {
			c.n--
			ok := c.flag != flagRaised
			c.mu.Unlock()
			return ok
		}
		w := c.waitChan()
		c.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return false
		}
		c.mu.Lock()
	}
}

// Until is Wait with a time limit instead of a context (nanonext's until):
// it returns true once it has taken one from the counter, false if d
// passes first or the CV is closed. It ignores the flag. A d of zero or
// less only looks: true if the counter is above zero now.
func (c *CV) Until(d time.Duration) bool {
	var t *time.Timer
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			break
		}
		if c.n > 0 {
			c.n--
			c.mu.Unlock()
			if t != nil {
				t.Stop()
			}
			return true
		}
		if d <= 0 {
			c.mu.Unlock()
			return false
		}
		w := c.waitChan()
		c.mu.Unlock()
		if t == nil {
			t = time.NewTimer(d)
		}
		select {
		case <-w:
		case <-t.C:
			return false
		}
		c.mu.Lock()
	}
	if t != nil {
		t.Stop()
	}
	return false
}

// waitChan returns the channel the next signal closes. c.mu must be held.
func (c *CV) waitChan() chan struct{} {
	if c.wake == nil {
		c.wake = make(chan struct{})
	}
	return c.wake
}

// Value returns the counter (nanonext's cv_value). It never blocks.
func (c *CV) Value() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Reset sets the counter to zero and clears the flag, armed or raised
// (nanonext's cv_reset): a PipeNotify flag must be registered again to
// take effect. It also forgets the failure (Err) and the last supervisor
// event (Last).
func (c *CV) Reset() {
	c.mu.Lock()
	c.n, c.flag = 0, flagNone
	c.last, c.err = Event{}, nil
	c.mu.Unlock()
}

// Err returns the cause of the latest failure a supervisor broadcast to c
// (an Event of Kind Failed) since the last Reset, nil if none. A Wait
// that returned false with Err nil saw a pipe flag or Raise, not a
// failure. It never blocks.
func (c *CV) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Last returns the latest event a supervisor broadcast to c since the last
// Reset (the zero Event if none): after Wait returns, it tells a normal
// stop (Stopped, Closed) from a restart or a join. Events broadcast
// together coalesce: only the latest is kept, while the counter counts
// them all. It never blocks.
func (c *CV) Last() Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Close closes the CV: waiters wake and return false, later Waits and
// Untils return false at once, signals are ignored, and forwarding from or
// to it stops. Value still reads the counter. A second Close returns
// ErrClosed. Close never blocks.
func (c *CV) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "cv: close"}
	}
	c.closed = true
	c.fwd = nil
	if c.wake != nil {
		close(c.wake)
		c.wake = nil
	}
	return nil
}

func (c *CV) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// forwarder is one Forward link, compared by identity so that the stop
// function of a replaced link does not remove its successor.
type forwarder struct{ to *CV }

// Forward makes every later signal of c also signal to (nanonext's
// c %~>% to): each one, exactly, and in the same call, so nothing is lost
// or merged and no goroutine is needed. Chains work (a → b → c signals all
// three). c keeps its own counter. A CV forwards to one CV at a time: a new
// Forward from c replaces the previous one. Forwarding stops when stop is
// called (idempotent), or when either CV is closed.
//
// Errors: ErrInvalid for a nil to, to == c, or a link that would close a
// cycle; ErrClosed if either CV is closed.
//
// nanonext runs a thread per forwarder that watches c's counter and adds
// what it sees to to, so that signals arriving together, or taken by a
// waiter on c first, are forwarded as fewer (its documented divergence);
// forwarding in the signalling call makes every signal count.
func (c *CV) Forward(to *CV) (stop func(), err error) {
	const op = "cv: forward"
	if to == nil || to == c {
		return func() {}, nanoact.Errorf(nanoact.CodeInvalid, op, "cannot forward a cv to itself or to nil")
	}
	if to.isClosed() {
		return func() {}, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	for cur, hops := to, 0; cur != nil && hops < maxHops; hops++ {
		cur.mu.Lock()
		var next *CV
		if cur.fwd != nil {
			next = cur.fwd.to
		}
		cur.mu.Unlock()
		if next == c {
			return func() {}, nanoact.Errorf(nanoact.CodeInvalid, op, "forwarding would make a cycle")
		}
		cur = next
	}
	f := &forwarder{to: to}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return func() {}, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	c.fwd = f
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.fwd == f {
				c.fwd = nil
			}
			c.mu.Unlock()
		})
	}, nil
}

// dropForwardTo removes c's forwarder if it still leads to the closed CV
// to.
func (c *CV) dropForwardTo(to *CV) {
	c.mu.Lock()
	if c.fwd != nil && c.fwd.to == to {
		c.fwd = nil
	}
	c.mu.Unlock()
}
