package aio

import (
	"context"
)

// Go runs fn as an aio: fn gets a context that Stop cancels and Timeout
// bounds (nanoact.ErrCanceled and ErrTimedOut, wrapping the context's
// error, are what a context-aware fn returns then), and the aio resolves
// to what fn returns. It is how other packages make an aio of a blocking
// operation of their own (an RPC request: a send then a receive). Go never
// blocks; fn runs on the aio's goroutine, or on a waiter that would block
// anyway (see Aio), or, with Timeout(0), inside Go under a context that
// has already expired. Signal, WithSystem and WithLogger apply as for
// Recv; Mode and ToPipe are ignored. A panic in fn is not recovered: fn
// is the caller's own code, run as a goroutine would run it. A nil fn
// resolves to ErrInvalid.
//
// Cost: one aio (about 170 bytes), one stop channel and one goroutine.
func Go[T any](fn func(ctx context.Context) (T, error), opts ...Option) *Aio[T] {
	a, cfg := newAio[T](opts)
	if fn == nil {
		var zero T
		a.resolve(zero, errNilFunc, 0)
		return a
	}
	if cfg.hasTimeout && cfg.timeout == 0 {
		v, err := fn(expiredCtx{})
		a.resolve(v, err, 0)
		return a
	}
	a.start(&cfg, &opState{fn: fn})
	go a.runOp()
	return a
}

// NewPending returns an aio that resolves when its owner calls resolve:
// the adapter for completion sources that are not connections (a task
// dispatcher, a callback API), as NNG's nng_aio_finish is for providers.
// resolve may be called from any goroutine, any number of times; the
// first call resolves the aio and the others do nothing.
//
// Stop, Cancel through Ref, and a Timeout that passes resolve the aio
// themselves, to an error matching nanoact.ErrCanceled or ErrTimedOut,
// unless resolve came first; onStop (if not nil) is then called, once,
// on the goroutine that stopped it and before the aio resolves, so that
// the owner can abandon the work. The owner's later resolve does nothing. Signal, WithSystem,
// WithLogger and a positive Timeout apply; other Timeouts, Mode and ToPipe
// are ignored.
//
// Cost: one aio and three small allocations; no goroutine.
func NewPending[T any](onStop func(), opts ...Option) (a *Aio[T], resolve func(v T, err error)) {
	return newPending[T](onStop, nil, opts)
}

// NewPendingFunc is NewPending whose onStop also chooses the error the aio
// resolves with when Stop, Cancel or a Timeout ends it: onStop is given
// the error they would use (matching nanoact.ErrCanceled or ErrTimedOut)
// and returns the one to resolve with, that error or one wrapping it (a
// task runner says there whether the stopped work had started). onStop
// must not be nil. Same cost as NewPending.
func NewPendingFunc[T any](onStop func(err error) error, opts ...Option) (a *Aio[T], resolve func(v T, err error)) {
	return newPending[T](nil, onStop, opts)
}

// newPending is NewPending (onStop) and NewPendingFunc (onStopErr): at
// most one of the two is set.
func newPending[T any](onStop func(), onStopErr func(error) error, opts []Option) (a *Aio[T], resolve func(v T, err error)) {
	a, cfg := newAio[T](opts)
	if a.x == nil {
		a.x = &extra{}
	}
	a.x.abort = func(err error) {
		if a.claimed.CompareAndSwap(false, true) {
			// First: once the aio is seen resolved, the owner knows.
			switch {
			case onStopErr != nil:
				err = onStopErr(err)
			case onStop != nil:
				onStop()
			}
			var zero T
			a.resolve(zero, err, 0)
		}
	}
	if cfg.hasTimeout && cfg.timeout > 0 {
		a.start(&cfg, nil) // the timer; its expiry aborts
	}
	return a, func(v T, err error) {
		if a.claimed.CompareAndSwap(false, true) {
			a.resolve(v, err, 0)
		}
	}
}
