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
