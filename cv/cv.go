package aio

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nanoact/nanoact"
)

// CV is nanonext's condition variable: a counter plus a broadcast, and a
// flag. Signal adds one to the counter and wakes every waiter; Wait and
// Until take one back. Aios signal it when they resolve (Signal option),
// PipeNotify when connections come and go, supervisors (Broadcaster) when
// something fails or stops.
//
// The flag: PipeNotify with PipeFlag arms it, and the first pipe event
// after that raises it (Raise also does); while it is raised Wait returns
// false, so a waiter learns that a peer went away rather than that work
// arrived. Reset clears counter and flag.
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
}

const (
	flagNone   int8 = 0
	flagArmed  int8 = 1
	flagRaised int8 = -1
)

// NewCV returns a new condition variable with counter 0 and no flag
// (nanonext's cv()).
func NewCV() *CV { return &CV{} }

// how a bump treats the flag
const (
	bumpPlain = iota // Signal
	bumpPipe         // a pipe event: raise the flag if armed
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

// signalAll signals the CVs of an aio as it resolves, and sets resolved
// inside the same critical section, with every CV's lock held (taken in
// address order). So whoever sees the aio resolved and then reads a CV
// finds it signalled, and whoever wakes on a CV and then looks at the aio
// finds it resolved. Forwarded signals follow after the locks are
// released.
func signalAll(cv *CV, more []*CV, resolved *atomic.Bool) {
	if len(more) == 0 {
		cv.mu.Lock()
		resolved.Store(true)
		next, ok := cv.bumpLocked(bumpPlain)
		cv.mu.Unlock()
		if ok {
			cv.forward(next)
		}
		return
	}
	cvs := append([]*CV{cv}, more...)
	slices.SortFunc(cvs, func(x, y *CV) int {
		return cmp.Compare(uintptr(unsafe.Pointer(x)), uintptr(unsafe.Pointer(y)))
	})
	cvs = slices.Compact(cvs)
	for _, c := range cvs {
		c.mu.Lock()
	}
	resolved.Store(true)
	nexts := make([]*CV, len(cvs))
	oks := make([]bool, len(cvs))
	for i, c := range cvs {
		nexts[i], oks[i] = c.bumpLocked(bumpPlain)
	}
	for _, c := range cvs {
		c.mu.Unlock()
	}
	for i, c := range cvs {
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
// every later Wait until Reset, returns false. Supervisors raise the CVs
// of waiters whose work can no longer complete (see Broadcaster).
// Forwarded signals are plain ones: the flag stays with this CV.
func (c *CV) Raise() { c.signal(bumpRaise) }

// arm sets the flag as PipeNotify's registration does: armed, or cleared.
func (c *CV) arm(on bool) {
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
// (a pipe event registered with PipeFlag, or Raise). It also returns false,
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
// take effect.
func (c *CV) Reset() {
	c.mu.Lock()
	c.n, c.flag = 0, flagNone
	c.mu.Unlock()
}

// Close closes the CV: waiters wake and return false, later Waits and
// Untils return false at once, signals are ignored, and forwarding from or
// to it stops. Value still reads the counter. A second Close returns
// ErrClosed. Close never blocks.
func (c *CV) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "aio: close cv"}
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
	const op = "aio: forward"
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

// Broadcaster is the supervisor side of condition variables: a set of CVs
// registered by waiters, all signalled at once when the supervisor's
// children fail or stop, so that every waiter wakes and re-checks its work
// instead of hanging. A socket, an RPC server or a dispatcher keeps one
// and calls Signal from its actor on actor.ChildStopped, Fail on
// actor.ChildFailed, and Close when it shuts down.
//
// The zero value is ready to use; a Broadcaster must not be copied after
// first use. It owns no goroutine; its methods never block on a waiter and
// are safe for concurrent use.
type Broadcaster struct {
	mu     sync.Mutex
	cvs    map[*CV]int // registration count
	closed bool
}

// Register adds cv to the set; unregister removes it (idempotent). A CV
// registered twice is signalled once per broadcast and stays until both
// registrations are removed. Registering on a closed Broadcaster raises
// cv at once (the supervisor is gone) and registers nothing.
func (b *Broadcaster) Register(cv *CV) (unregister func()) {
	if cv == nil {
		return func() {}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cv.Raise()
		return func() {}
	}
	if b.cvs == nil {
		b.cvs = make(map[*CV]int)
	}
	b.cvs[cv]++
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			if n := b.cvs[cv]; n > 1 {
				b.cvs[cv] = n - 1
			} else {
				delete(b.cvs, cv)
			}
			b.mu.Unlock()
		})
	}
}

// Len returns the number of CVs registered.
func (b *Broadcaster) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.cvs)
}

// snapshot returns the registered CVs, dropping the closed ones.
func (b *Broadcaster) snapshot(clear bool) []*CV {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*CV, 0, len(b.cvs))
	for cv := range b.cvs {
		if cv.isClosed() {
			delete(b.cvs, cv)
			continue
		}
		out = append(out, cv)
	}
	if clear {
		b.cvs = nil
	}
	return out
}

// Signal signals every registered CV once: each waiter wakes with Wait
// returning true and re-checks what it waits for (say, whether its aio
// resolved). Use it when a child stops normally.
func (b *Broadcaster) Signal() {
	for _, cv := range b.snapshot(false) {
		cv.Signal()
	}
}

// Fail raises every registered CV: waiters wake with Wait returning false.
// Use it when a child failed.
func (b *Broadcaster) Fail() {
	for _, cv := range b.snapshot(false) {
		cv.Raise()
	}
}

// Close raises every registered CV, forgets them all, and makes later
// Registers raise at once. A second Close returns ErrClosed.
func (b *Broadcaster) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "aio: close broadcaster"}
	}
	b.closed = true
	b.mu.Unlock()
	for _, cv := range b.snapshot(true) {
		cv.Raise()
	}
	return nil
}
