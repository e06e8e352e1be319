// Package promises provides Promise[T], the eventual result of an
// asynchronous operation, and Loop, the event loop that runs what follows
// from it. It is nanoact's counterpart of nanonext's promises (an aio
// turned into a promise of R's promises and later packages, fulfilled with
// the value or rejected with the error), typed and goroutine-safe.
//
// # Promises
//
// A Promise[T] is pending until it is fulfilled with a T or rejected with
// an error; it settles once, and the first settlement wins. Make one with
//
//   - NewResolver, which returns the promise and its resolve and reject
//     functions. It is the adapter for every completion source: an aio, a
//     callback API or a goroutine becomes a promise with one NewResolver
//     call and one resolve or reject call on completion, from any
//     goroutine;
//   - New, the same with a JavaScript-style executor function;
//   - Resolved and Rejected, already settled.
//
// Any goroutine may wait: Await(ctx) blocks until the promise settles (ctx
// ending abandons the wait only), Done returns a channel closed on
// settlement for use in a select, and Result reads the outcome without
// blocking.
//
// Continuations build chains. Then (a function, because a method cannot
// introduce a new type) maps a fulfilled value, and the method
// Promise.Then keeps the type; Catch handles a rejection (the Thens
// between are skipped); Finally runs on both paths and passes the outcome
// through; ThenPromise continues with another asynchronous operation.
// A continuation returns (value, error): a non-nil error rejects the next
// promise. A panic in a continuation rejects the next promise with an
// error matching nanoact.ErrInternal that wraps an *actor.Panic holding
// the value and the stack; it never reaches the loop. All, AllSettled,
// Race and Any combine promises, and WithContext cuts a chain loose when a
// context ends (nanoact.ErrCanceled or nanoact.ErrTimedOut, also matching
// context.Canceled or context.DeadlineExceeded) without cancelling the
// operation behind it.
//
// # The loop
//
// Continuations are messages to a Loop, an actor of package actor, which
// runs them one at a time, in the order they became ready (a continuation
// is ready when its promise settles, or at once if it was attached to a
// settled promise), and never on the goroutine that settled the promise:
// resolve returns as soon as the continuations are queued. So the state
// that only continuations of one loop touch needs no lock. Default is the
// process-wide loop, started on first use and never closed. NewLoop makes
// another, on actor.Default or the actor.System given by WithSystem, and
// Close stops it: ready continuations are dropped, and every pending
// promise of the loop rejects with nanoact.ErrClosed. Stats reports the
// queue length, the continuations run and the panics.
//
// A loop runs no goroutine while idle; while continuations are ready, its
// actor's mailbox goroutine runs them, one goroutine per loop whatever the
// number of promises. Settling a promise appends its continuations to the
// loop's queue (one lock) and, if the loop was idle, sends the actor one
// message; the actor drains the queue, continuations that become ready
// meanwhile included, in batches of up to 512 between mailbox messages.
//
// # Costs
//
// Measured by this package's benchmarks (go test -bench . ./promises) on
// a 2-CPU AMD EPYC shared with other work; the spread is wide, the figures
// are medians:
//
//	Then, per hop (register, queue, run, settle)  ~0.25 µs, 1 alloc (80 B for int to int)
//	  of which loop time per continuation         ~0.08 µs (0.17 µs with a Ref.Send each)
//	chain of 1000 Thens, built and run            ~0.35 ms
//	round trip on an idle loop                    ~2 µs, 7 allocs
//	  (NewResolver, Then, resolve, Await: the actor and the waiter wake)
//	NewResolver                                   3 allocs
//	Await or Result of a settled promise          ~5 ns, 0 allocs
//	Await of a pending promise                    2 allocs (its channel)
//	All of 100 (with the 100 NewResolvers)        ~35 µs, 306 allocs
//
// A promise is one allocation of 56 bytes plus T, carrying its first
// continuation; no goroutine, actor or timer is made per promise. Then,
// Catch and Finally allocate the next promise and its continuation
// together. The combinators allocate two or three times plus once per
// input.
//
// # Rules
//
// A continuation holds up every other continuation of its loop while it
// runs: hand long or blocking work to a goroutine and come back with
// NewResolver. Never Await, in a continuation, a pending promise of the
// same loop (it cannot settle while the loop waits), and never Close a
// loop from one of its own continuations (Close waits for the running
// continuation to return).
//
// A pending promise costs nothing to forget: the loop holds no reference
// to it, except after Done was called on it or while a continuation of
// another loop waits for it (then until it settles or its loop closes).
// A promise whose loop has closed rejects with ErrClosed when it is next
// looked at; Await, Done and continuations on other loops learn of it at
// once.
package promises
