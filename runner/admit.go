package runner

// Backpressure: the bound on queued tasks and queued payload bytes that
// Submit waits on and TrySubmit fails on.

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanoact/nanoact"
)

// admission counts the tasks admitted and not yet sent to a daemon (or
// dropped), and their argument bytes, against the dispatcher's bounds.
// Submitters charge it; the dispatcher's actor releases it. A submitter
// that finds it full waits for a release (space).
type admission struct {
	maxN, maxB int64 // <= 0: no bound
	n, b       atomic.Int64
	waiters    atomic.Int32
	mu         sync.Mutex
	space      chan struct{} // closed (and set to nil) by a release while waiters wait
}

// bounded reports whether either bound is set; an unbounded dispatcher
// charges nothing.
func (a *admission) bounded() bool { return a.maxN > 0 || a.maxB > 0 }

// tryTake charges one task of size bytes, or reports false when that
// would pass a bound. A task larger than the byte bound is admitted
// when no other bytes are queued, so that it can run at all.
func (a *admission) tryTake(size int64) bool {
	n := a.n.Add(1)
	b := a.b.Add(size)
	if (a.maxN > 0 && n > a.maxN) || (a.maxB > 0 && b > a.maxB && b != size) {
		a.release(size) // wakes a waiter that this transient charge turned away
		return false
	}
	return true
}

// release gives back one task of size bytes and wakes the waiters.
func (a *admission) release(size int64) {
	a.n.Add(-1)
	a.b.Add(-size)
	if a.waiters.Load() > 0 {
		a.mu.Lock()
		if a.space != nil {
			close(a.space)
			a.space = nil
		}
		a.mu.Unlock()
	}
}

// take charges one task of size bytes, waiting for room until ctx ends,
// timeout (if positive) passes or the dispatcher closes (life ends).
// It returns nil, or the error the task resolves with.
func (a *admission) take(ctx context.Context, life context.Context, timeout time.Duration, size int64, name string) error {
	if a.tryTake(size) {
		return nil
	}
	a.waiters.Add(1)
	defer a.waiters.Add(-1)
	var expired <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		expired = tm.C
	}
	for {
		a.mu.Lock()
		if a.space == nil {
			a.space = make(chan struct{})
		}
		ch := a.space
		a.mu.Unlock()
		// A release after this point closes ch; one before it left room.
		if a.tryTake(size) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nanoact.FromContext(ctx, "runner: task "+name+": wait for queue room")
		case <-expired:
			return timeoutError(name)
		case <-life.Done():
			return &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: task " + name}
		}
	}
}

// unhold releases t's charge, once, when it leaves the queue: sent to a
// daemon, dropped or resolved. A re-queued task is not charged again. It
// runs on the actor, or where a queued task is resolved.
func (d *Dispatcher) unhold(t *task) {
	if t.held.Load() && t.held.Swap(false) {
		d.adm.release(int64(int(t.nargs)))
	}
}
