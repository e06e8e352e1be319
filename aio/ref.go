package aio

import (
	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
)

// The messages an aio's actor (Ref) understands.
type (
	// Query asks for the aio's Status; Request it.
	Query struct{}

	// Cancel cancels the aio's operation, as Stop does, without waiting:
	// a Request is answered with nil at once, and the aio resolves (to
	// ErrCanceled if it was still in flight) soon after. It is named
	// Cancel rather than Stop because the package function Stop already
	// has that name.
	Cancel struct{}

	// Subscribe asks that To be sent exactly one Completed once the aio
	// resolves (at once if it has). A Request is answered with nil, or
	// ErrInvalid for a nil To.
	Subscribe struct{ To *actor.Ref }
)

// Status answers Query.
type Status struct {
	// Resolved is false while the operation is in flight; the other
	// fields are then zero.
	Resolved bool
	// Value is the aio's value (a T; struct{}{} for a send), nil if it
	// failed. It is boxed because actor messages are untyped; holders of
	// the *Aio read it typed with Result.
	Value any
	// Err is the error the aio resolved to.
	Err error
	// Pipe is the aio's Pipe.
	Pipe uint32
}

// Completed is sent, once, to each subscriber when the aio resolves.
type Completed struct {
	// Aio is the Ref of the aio's actor, to tell several aios apart.
	Aio *actor.Ref
	// Value, Err and Pipe are as in Status.
	Value any
	Err   error
	Pipe  uint32
}

// completion is the one message that tells the aio's actor its aio has
// resolved.
type completion struct{}

// Ref returns the aio as an actor process: a *actor.Ref other actors can
// address. The actor is spawned on the first call only, on actor.Default()
// or the system given by WithSystem (about 7 µs and 26 allocations, which
// is why an aio that is never asked for one never has one); later calls
// return the same Ref.
//
// The actor answers Query with a Status, takes Cancel and Subscribe, and
// receives exactly one internal message when the aio resolves; it then
// stops itself. From then on, as for any stopped actor, a Request to it
// returns an error matching nanoact.ErrClosed and a Send is dropped:
// whoever holds the *Aio reads the result there, and a subscriber that
// Requests its Subscribe learns from ErrClosed that it came too late.
// Asked of an aio that has already resolved, Ref spawns an actor that stops
// at once.
//
// Errors: those of actor.System.Spawn (ErrClosed for a closed system);
// ErrInvalid for a nil aio.
func (a *Aio[T]) Ref() (*actor.Ref, error) {
	if a == nil {
		return nil, errNilAio
	}
	a.mu.Lock()
	if r := a.extra().ref; r != nil {
		a.mu.Unlock()
		return r, nil
	}
	sys := actor.Default()
	if x := a.x.Load(); x.sys != nil {
		sys = x.sys
	}
	r, err := sys.Spawn("", &aioActor[T]{a: a})
	if err != nil {
		a.mu.Unlock()
		return nil, err
	}
	a.x.Load().ref = r
	a.mu.Unlock()
	a.OnComplete(func(T, error) { r.Send(completion{}) })
	return r, nil
}

// aioActor is the Receiver of an aio's actor.
type aioActor[T any] struct{ a *Aio[T] }

func (x *aioActor[T]) Receive(c *actor.Context) {
	a := x.a
	switch m := c.Message().(type) {
	case Query:
		if !a.Resolved() {
			c.Respond(Status{})
			return
		}
		v, err := a.Result()
		c.Respond(Status{Resolved: true, Value: boxed(v, err), Err: err, Pipe: a.Pipe()})
	case Cancel:
		a.cancel()
		c.Respond(nil)
	case Subscribe:
		if m.To == nil {
			c.RespondError(nanoact.Errorf(nanoact.CodeInvalid, "aio: subscribe", "nil subscriber"))
			return
		}
		to, self := m.To, c.Self()
		a.OnComplete(func(v T, err error) {
			to.Send(Completed{Aio: self, Value: boxed(v, err), Err: err, Pipe: a.Pipe()})
		})
		c.Respond(nil)
	case completion:
		c.Stop(c.Self())
	}
}

func boxed[T any](v T, err error) any {
	if err != nil {
		return nil
	}
	return v
}
