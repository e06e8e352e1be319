package aio

import "github.com/nanoact/nanoact/promises"

// Promise returns a promise on l (promises.Default() if l is nil) that
// settles with a's outcome (nanonext's as.promise on an aio): fulfilled
// with the value (struct{}{} for a send), or rejected with the error the
// aio resolved to, which carries NNG's code and text ("5 | Timed out") and
// matches the sentinels under errors.Is. Continuations run on the loop,
// never on the aio's goroutine.
//
// It costs promises.NewResolver (three allocations) and one callback; no
// goroutine. An aio that has resolved gives a promise settled at once.
// Each call makes a new promise; keep the one you need.
func Promise[T any](a *Aio[T], l *promises.Loop) *promises.Promise[T] {
	p, resolve, reject := promises.NewResolver[T](l)
	a.OnComplete(func(v T, err error) {
		if err != nil {
			reject(err)
			return
		}
		resolve(v)
	})
	return p
}

// FromPromise returns an aio that resolves with p's outcome, so that a
// promise can be waited on, collected, raced and signalled like an aio
// (Wait, Collect, Race, the Signal option). Stop on the aio resolves it
// with ErrCanceled without touching p (a promise has no operation to
// cancel). It costs one continuation on p's loop and no goroutine.
func FromPromise[T any](p *promises.Promise[T], opts ...Option) *Aio[T] {
	a, resolve := NewPending[T](nil, opts...)
	p.Then(func(v T) (T, error) {
		resolve(v, nil)
		return v, nil
	}).Catch(func(err error) (T, error) {
		var zero T
		resolve(zero, err)
		return zero, err
	})
	return a
}
