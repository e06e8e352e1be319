package aio

import (
	"context"

	"github.com/nanoact/nanoact"
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
// Cost: one aio (about 64 bytes plus T) and its operation's state (about
// 144 bytes), one stop channel and one goroutine.
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
// Cost: one aio (with onStop beside it, about 80 bytes plus T), and
// onStop's closure if it has one; no goroutine.
func NewPending[T any](onStop func(), opts ...Option) (a *Aio[T], resolve func(v T, err error)) {
	a, r := NewOwned[T](stopFunc(onStop), opts...)
	return a, r.Resolve
}

// NewPendingFunc is NewPending whose onStop also chooses the error the aio
// resolves with when Stop, Cancel or a Timeout ends it: onStop is given
// the error they would use (matching nanoact.ErrCanceled or ErrTimedOut)
// and returns the one to resolve with, that error or one wrapping it (a
// task runner says there whether the stopped work had started). onStop
// must not be nil. Same cost as NewPending.
func NewPendingFunc[T any](onStop func(err error) error, opts ...Option) (a *Aio[T], resolve func(v T, err error)) {
	a, r := NewOwned[T](stopErrFunc(onStop), opts...)
	return a, r.Resolve
}

// Owner is the owner of an aio made by NewOwned: the operation that
// resolves it.
type Owner interface {
	// Stopped is called when Stop, Cancel through Ref or a Timeout ends
	// the aio before its owner resolved it: once, on the goroutine that
	// stopped it, before the aio resolves, so that the owner can abandon
	// the work. err is the error the aio would resolve with (matching
	// nanoact.ErrCanceled or ErrTimedOut); Stopped returns the one it
	// resolves with, err or an error wrapping it.
	Stopped(err error) error
}

// Resolver resolves an aio made by NewOwned. It is one pointer: copy it
// freely. It is safe for concurrent use.
type Resolver[T any] struct{ o *Owned[T] }

// Resolve resolves the aio with v and err, unless it is resolved already
// (by an earlier Resolve, or by Stop, Cancel or a Timeout): the first
// resolution wins, the others do nothing. It never blocks, and runs the
// aio's OnComplete callbacks on the calling goroutine.
func (r Resolver[T]) Resolve(v T, err error) { r.o.Resolve(v, err) }

// NewOwned is NewPendingFunc for an owner that is a value of its own
// (a task, a request): it returns the aio and its Resolver, and tells
// owner when the aio is stopped (Owner.Stopped). Options apply as for
// NewPending. An owner that is a struct of its own can save the
// allocation by embedding the aio instead (Owned).
//
// Cost: one allocation of the aio and its owner's interface (about 80
// bytes plus T); no goroutine.
func NewOwned[T any](owner Owner, opts ...Option) (*Aio[T], Resolver[T]) {
	p := &ownedAio[T]{owner: owner}
	return p.Init(p, opts...), Resolver[T]{&p.Owned}
}

// ownedAio is an aio made by NewOwned: an Owned with its owner beside it
// in the same allocation.
type ownedAio[T any] struct {
	Owned[T]
	owner Owner
}

func (p *ownedAio[T]) Stopped(err error) error {
	if p.owner == nil {
		return err
	}
	return p.owner.Stopped(err)
}

// Owned is an aio embedded in its owner, the value that resolves it (a
// task, a request), so that the two take one allocation where NewOwned
// takes one for the aio beside the owner's own. Embed it as an anonymous
// field of the owner's struct, have a pointer to that struct implement
// Owner, and call Init once, before the aio is shared:
//
//	type job struct {
//		aio.Owned[int]
//		// the job's own fields
//	}
//
//	func (j *job) Stopped(err error) error { /* abandon the work */ return err }
//
//	j := &job{}
//	a := j.Init(j) // the *aio.Aio[int] to hand out
//	// later, from any goroutine: j.Resolve(42, nil)
//
// The aio then behaves as one made by NewOwned with that owner: Stop,
// Cancel through Ref and a positive Timeout resolve it through
// Owner.Stopped unless Resolve came first, and the first resolution wins.
// The zero Owned is not ready: Init it. It must not be copied after Init;
// its methods are safe for concurrent use after Init.
//
// Cost: about 64 bytes plus T inside the owner's allocation, and no
// allocation of its own (options aside, see Init); no goroutine. A task
// runner keeps one per queued task this way (package runner).
type Owned[T any] struct{ a Aio[T] }

// Init readies the aio with opts (as for NewPending: Signal, WithSystem,
// WithLogger and a positive Timeout apply) and owner, and returns it.
// Call it once, before the aio is shared. owner is told when the aio is
// stopped (Owner.Stopped); when owner is the struct that embeds o, the
// aio reaches it at no cost, otherwise Init allocates a small adapter
// (24 bytes). A positive Timeout starts its timer here (an allocation of
// the aio's out-of-line state and a timer), as do the other options but
// the mode (see Aio). Init never blocks.
func (o *Owned[T]) Init(owner Owner, opts ...Option) *Aio[T] {
	a := &o.a
	cfg := a.init(opts)
	if h, ok := owner.(ownedHook); ok && h.ownedCore() == &a.core {
		a.async = h // the embedding owner: its promoted cancelAsync
	} else {
		a.async = &ownerHook[T]{o: o, owner: owner}
	}
	if cfg.hasTimeout && cfg.timeout > 0 {
		a.start(&cfg, nil) // the timer; its expiry stops the aio
	}
	return a
}

// Aio returns the aio (the one Init returned). It never blocks.
func (o *Owned[T]) Aio() *Aio[T] { return &o.a }

// Resolve resolves the aio with v and err, unless it is resolved already
// (by an earlier Resolve, or by Stop, Cancel or a Timeout): the first
// resolution wins, the others do nothing. It reports whether this call
// resolved it. It never blocks, and runs the aio's OnComplete callbacks on
// the calling goroutine.
func (o *Owned[T]) Resolve(v T, err error) bool {
	if !o.a.claim() {
		return false
	}
	o.a.resolve(v, err, 0)
	return true
}

// ownedHook is an owner that embeds an Owned: a pointer to the owner's
// struct has Owned's cancelAsync and ownedCore (promoted), so that the
// aio's async is the owner itself, Owner and asyncOp in one interface.
type ownedHook interface {
	asyncOp
	Owner
	ownedCore() *core
}

func (o *Owned[T]) ownedCore() *core { return &o.a.core }

// cancelAsync is the embedding owner's (promoted): the aio's async is the
// owner, an ownedHook.
func (o *Owned[T]) cancelAsync(why uint32) { o.stopWith(why, o.a.async.(Owner)) }

// stopWith is the first end (Stop, Cancel, the time-out) of an owned aio:
// it asks owner for the error and resolves the aio with it, unless the
// owner resolved it first.
func (o *Owned[T]) stopWith(why uint32, owner Owner) {
	a := &o.a
	if !a.claim() {
		return
	}
	err := stopError(why)
	if owner != nil {
		err = owner.Stopped(err)
	}
	var zero T
	a.resolve(zero, err, 0)
}

// ownerHook is the async of an Owned whose owner does not embed it.
type ownerHook[T any] struct {
	o     *Owned[T]
	owner Owner
}

func (h *ownerHook[T]) cancelAsync(why uint32) { h.o.stopWith(why, h.owner) }

// stopError is the error an aio stopped for why resolves with.
func stopError(why uint32) error {
	if why == expired {
		return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "aio", Err: context.DeadlineExceeded}
	}
	return &nanoact.Error{Code: nanoact.CodeCanceled, Op: "aio: stop", Err: context.Canceled}
}

// stopFunc and stopErrFunc are the onStop of NewPending and
// NewPendingFunc as an Owner (a func in an interface costs nothing).
type (
	stopFunc    func()
	stopErrFunc func(error) error
)

func (f stopFunc) Stopped(err error) error {
	if f != nil {
		f()
	}
	return err
}

func (f stopErrFunc) Stopped(err error) error { return f(err) }
