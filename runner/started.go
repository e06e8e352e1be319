package runner

import (
	"context"
	"errors"
)

// ErrNotStarted is matched (errors.Is) by the error of a task that never
// reached a daemon: cancelled, timed out or closed while still queued,
// turned away by a full queue (TrySubmit), or never admitted. Such a task
// did not run, so it is safe to submit again. The error still matches
// its nanoact sentinel (ErrCanceled, ErrTimedOut, ErrClosed, ErrTryAgain).
var ErrNotStarted = errors.New("the task never started")

// ErrMayHaveRun is matched (errors.Is) by the error of a task that was
// cancelled, timed out, closed or lost (ErrConnReset) after it had been
// sent to a daemon: it may have run, in part or in full, so only a task
// that is safe to run twice should be submitted again (mirai's
// distinction between a cancelled queued task and an interrupted one).
var ErrMayHaveRun = errors.New("the task may have run")

// stageError is a task's error with what it says about the task's start.
type stageError struct {
	err   error
	stage error // ErrNotStarted or ErrMayHaveRun
}

func (e *stageError) Error() string {
	if e.stage == ErrNotStarted {
		return e.err.Error() + " (never started)"
	}
	return e.err.Error() + " (may have run)"
}

// Unwrap gives both the error and the stage sentinel to errors.Is and
// errors.As.
func (e *stageError) Unwrap() []error { return []error{e.err, e.stage} }

func notStarted(err error) error { return &stageError{err: err, stage: ErrNotStarted} }

func mayHaveRun(err error) error { return &stageError{err: err, stage: ErrMayHaveRun} }

// Phases of a task, for ErrNotStarted and ErrMayHaveRun.
const (
	phaseQueued  uint32 = iota // never sent to a daemon
	phaseSent                  // sent to a daemon at least once
	phaseDropped               // resolved before it was ever sent: the actor must not send it
)

// staged wraps err, the error t resolves with, with what it says about
// t's start: ErrNotStarted if t was never sent to a daemon (and now never
// will be), else ErrMayHaveRun. Whoever resolves t calls it once t is
// taken.
func (t *task) staged(err error) error {
	if err == nil {
		return nil
	}
	if t.phase.CompareAndSwap(phaseQueued, phaseDropped) || t.phase.Load() == phaseDropped {
		return notStarted(err)
	}
	return mayHaveRun(err)
}

// dropIfQueued marks t, just resolved from outside the actor, as never to
// be sent if it has not been, and gives its queue room back at once, so
// that a Submit waiting for room need not wait for the actor.
func (t *task) dropIfQueued() {
	if d := t.disp(); d != nil && (t.phase.CompareAndSwap(phaseQueued, phaseDropped) || t.phase.Load() == phaseDropped) {
		d.unhold(t)
	}
}

// Attempt identifies one run of a task, for a task that must be
// idempotent: a task re-queued after its daemon was lost (Requeue) runs
// again, and its first run may have finished (its result lost with the
// connection), so a re-queued task runs at least once, not exactly once.
// A task with side effects can key them on Task and tell a retry by
// Number.
type Attempt struct {
	// Task is the task's id: its submission index on its dispatcher
	// (from 1; Status.Submitted counts them), the same for every attempt.
	Task uint64
	// Number is the attempt's number: 1 for the first run, 2 for the
	// first re-queued one, and so on.
	Number int
}

type attemptKey struct{}

// attemptCtx is a task's attempt and seed, what Value(attemptKey{})
// gives: a field of the task's taskCtx (a context.WithValue would box the
// Attempt too).
type attemptCtx struct {
	context.Context
	a    Attempt
	seed uint64 // SeedFrom; 0: none sent
}

func (c *attemptCtx) Value(key any) any {
	if key == (attemptKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// AttemptFrom returns the attempt a task's ctx runs, and true; false for
// a context that is not a task's (or a task sent by a dispatcher older
// than attempt ids). It costs a context lookup.
func AttemptFrom(ctx context.Context) (Attempt, bool) {
	if c, ok := ctx.Value(attemptKey{}).(*attemptCtx); ok && c.a.Number > 0 {
		return c.a, true
	}
	return Attempt{}, false
}
