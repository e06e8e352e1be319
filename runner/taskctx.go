package runner

import (
	"context"
	"sync"
	"time"
)

// taskCtx is the context of one task a daemon runs: cancellable (a
// cancel message, the connection's loss, the daemon's end), with the
// task's deadline if it has a time-out, and its attempt and seed (see
// AttemptFrom, SeedFrom), in one allocation where context.WithCancel or
// WithTimeout and an attemptCtx took three or four. Its Done channel is
// made only when asked for (most tasks never do). It implements
// AfterFunc, which context.WithCancel and context.AfterFunc use for
// contexts that are not the standard library's, so a context the task
// derives from it costs no goroutine.
type taskCtx struct {
	base context.Context // the daemon's: values only, never done
	ac   attemptCtx      // Value(attemptKey{}) when sent (hasAttempt)
	// hasAttempt: the dispatcher sent an attempt or a seed.
	hasAttempt bool
	deadline   time.Time // zero: no time-out

	mu     sync.Mutex
	done   chan struct{} // nil until Done is asked for or the context ends
	err    error         // set once it ends
	timer  *time.Timer   // the time-out's
	afters []*taskAfter  // AfterFunc's, not yet run or stopped
}

// taskAfter is one AfterFunc registration.
type taskAfter struct{ f func() }

// closedDone is the Done channel of a context that ended before anyone
// asked for it.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// newTaskCtx returns the context of a task sent with frame f: a time-out
// of f.timeout (none if 0), its attempt and seed.
func newTaskCtx(base context.Context, f *frame) *taskCtx {
	tc := &taskCtx{base: base}
	if f.attempt > 0 || f.seed != 0 {
		tc.hasAttempt = true
		tc.ac = attemptCtx{Context: tc, a: Attempt{Task: f.task, Number: int(min(f.attempt, 1<<31))}, seed: f.seed}
	}
	if f.timeout > 0 {
		d := time.Duration(min(f.timeout, uint64(1<<62)))
		tc.deadline = time.Now().Add(d)
		tc.mu.Lock()
		tc.timer = time.AfterFunc(d, func() { tc.end(context.DeadlineExceeded) })
		tc.mu.Unlock()
	}
	return tc
}

// Deadline implements context.Context.
func (tc *taskCtx) Deadline() (time.Time, bool) { return tc.deadline, !tc.deadline.IsZero() }

// Done implements context.Context.
func (tc *taskCtx) Done() <-chan struct{} {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.done == nil {
		tc.done = make(chan struct{})
	}
	return tc.done
}

// Err implements context.Context.
func (tc *taskCtx) Err() error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.err
}

// Value implements context.Context.
func (tc *taskCtx) Value(key any) any {
	if key == (attemptKey{}) && tc.hasAttempt {
		return &tc.ac
	}
	return tc.base.Value(key)
}

// String names it, as the standard library's contexts do.
func (tc *taskCtx) String() string { return "runner.taskCtx" }

// cancel ends the context with context.Canceled (a no-op once ended).
func (tc *taskCtx) cancel() { tc.end(context.Canceled) }

// end ends the context with err, unless it has ended: Done closes, the
// time-out stops, and each AfterFunc function starts on a goroutine of
// its own, as with the standard library's contexts.
func (tc *taskCtx) end(err error) {
	tc.mu.Lock()
	if tc.err != nil {
		tc.mu.Unlock()
		return
	}
	tc.err = err
	if tc.done == nil {
		tc.done = closedDone
	} else {
		close(tc.done)
	}
	if tc.timer != nil {
		tc.timer.Stop()
		tc.timer = nil
	}
	afters := tc.afters
	tc.afters = nil
	tc.mu.Unlock()
	for _, a := range afters {
		go a.f()
	}
}

// AfterFunc arranges for f to run on a goroutine of its own once the
// context ends (at once if it has); stop unregisters it and reports
// whether it did so before f started. The standard library's
// context.AfterFunc and propagation of cancellation to derived contexts
// call it.
func (tc *taskCtx) AfterFunc(f func()) (stop func() bool) {
	tc.mu.Lock()
	if tc.err != nil {
		tc.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	a := &taskAfter{f: f}
	tc.afters = append(tc.afters, a)
	tc.mu.Unlock()
	return func() bool {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		for i, x := range tc.afters {
			if x == a {
				tc.afters = append(tc.afters[:i], tc.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}
