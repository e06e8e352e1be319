package aio

import (
	"context"
	"reflect"

	"github.com/nanoact/nanoact"
)

// Resolvable is what the functions over several aios need, so that aios
// of different types mix in one list: *Aio[T] for any T (and so
// *SendAio), and aio-like types of other packages (an RPC request).
//
// Done must return the same channel every time, closed once resolved.
// Stop must cancel and block until resolved.
type Resolvable interface {
	Done() <-chan struct{}
	Stop()
}

// canceler is implemented by this package's aios: cancel without
// waiting, so that Stop over a list cancels them all before it waits.
type canceler interface{ cancelOp() }

// waiter is implemented by this package's aios: run the operation on the
// waiter's goroutine if it has not started (see core.help), then block
// until resolved without making a done channel (see core.wait).
type waiter interface{ waitOp() }

// isResolved reports whether a has resolved; a nil entry counts as
// resolved (nanonext ignores non-aios).
func isResolved(a Resolvable) bool {
	if a == nil {
		return true
	}
	if r, ok := a.(interface{ Resolved() bool }); ok {
		return r.Resolved()
	}
	select {
	case <-a.Done():
		return true
	default:
		return false
	}
}

// Unresolved reports whether any of as is still pending (nanonext's
// unresolved, for one aio or a list). It never blocks and never consumes
// anything. Nil entries count as resolved.
func Unresolved(as ...Resolvable) bool {
	for _, a := range as {
		if !isResolved(a) {
			return true
		}
	}
	return false
}

// CountUnresolved returns how many of as are still pending (nanonext's
// .unresolved over a list). It never blocks.
func CountUnresolved(as ...Resolvable) int {
	n := 0
	for _, a := range as {
		if !isResolved(a) {
			n++
		}
	}
	return n
}

// Wait blocks until a has resolved or ctx ends (nanonext's call_aio): nil
// once resolved (read the outcome from the aio), or an error matching
// nanoact.ErrTimedOut or nanoact.ErrCanceled, and the ctx error, if ctx
// ended first. Ending ctx abandons the wait only. A nil a returns nil.
// With a ctx that cannot end, Wait runs the operation of this package's
// aios itself if their goroutine has not started it (see Aio).
func Wait(ctx context.Context, a Resolvable) error {
	if a == nil {
		return nil
	}
	if w, ok := a.(waiter); ok && ctx.Done() == nil {
		w.waitOp()
		return nil
	}
	done := a.Done()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		select {
		case <-done:
			return nil
		default:
			return nanoact.FromContext(ctx, "aio: wait")
		}
	}
}

// WaitAll is Wait for every aio in as, in order (nanonext's call_aio on a
// list): nil once all have resolved, or the ctx error as Wait. It
// allocates nothing.
func WaitAll(ctx context.Context, as ...Resolvable) error {
	for _, a := range as {
		if err := Wait(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// Collect waits for a and returns its value or error (nanonext's
// collect_aio): it is a.Value(ctx).
func Collect[T any](ctx context.Context, a *Aio[T]) (T, error) { return a.Value(ctx) }

// CollectAll waits for every aio in as and returns their values in the
// same order (nanonext's collect_aio on a list). errs is nil if every aio
// succeeded; otherwise errs[i] is the error of as[i], or nil. If ctx ends
// first, the aios still pending get the ctx error (matching ErrTimedOut or
// ErrCanceled) in errs; their operations go on. It allocates the two
// slices.
func CollectAll[T any](ctx context.Context, as []*Aio[T]) (vals []T, errs []error) {
	vals = make([]T, len(as))
	for i, a := range as {
		v, err := a.Value(ctx)
		vals[i] = v
		if err != nil {
			if errs == nil {
				errs = make([]error, len(as))
			}
			errs[i] = err
		}
	}
	return vals, errs
}

// CollectMap is CollectAll for aios under keys (nanonext keeps a list's
// names): the values under the same keys, and errs, nil if every aio
// succeeded, holding the error of each key that failed.
func CollectMap[K comparable, T any](ctx context.Context, as map[K]*Aio[T]) (vals map[K]T, errs map[K]error) {
	vals = make(map[K]T, len(as))
	for k, a := range as {
		v, err := a.Value(ctx)
		vals[k] = v
		if err != nil {
			if errs == nil {
				errs = make(map[K]error)
			}
			errs[k] = err
		}
	}
	return vals, errs
}

// Race blocks until one of as has resolved and returns its index
// (nanonext's race_aio); read its outcome from the aio. If several have
// resolved already, the lowest index wins. Race only watches the Done
// channels, which a resolved aio closes: it takes nothing that another
// waiter, callback or CV needs, and cancels nothing. If ctx ends first it
// returns -1 and an error matching nanoact.ErrTimedOut or ErrCanceled. Nil
// entries never win; with no non-nil entry, Race returns -1 and
// ErrInvalid.
//
// Cost: a pass over as, then, if nothing has resolved, one select on all
// the channels (reflect.Select beyond two aios: about 100 ns per aio and
// a few allocations).
func Race(ctx context.Context, as ...Resolvable) (int, error) {
	live := 0
	for i, a := range as {
		if a == nil {
			continue
		}
		live++
		select {
		case <-a.Done():
			return i, nil
		default:
		}
	}
	if live == 0 {
		return -1, nanoact.Errorf(nanoact.CodeInvalid, "aio: race", "no aio to race")
	}
	if len(as) == 2 && as[0] != nil && as[1] != nil {
		select {
		case <-as[0].Done():
			return 0, nil
		case <-as[1].Done():
			return 1, nil
		case <-ctx.Done():
			return raceLate(ctx, as)
		}
	}
	cases := make([]reflect.SelectCase, len(as)+1)
	for i, a := range as {
		cases[i].Dir = reflect.SelectRecv
		if a != nil {
			cases[i].Chan = reflect.ValueOf(a.Done())
		}
	}
	cases[len(as)] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
	i, _, _ := reflect.Select(cases)
	if i == len(as) {
		return raceLate(ctx, as)
	}
	return i, nil
}

// raceLate answers a Race whose ctx ended: an aio that resolved in the
// same instant still wins.
func raceLate(ctx context.Context, as []Resolvable) (int, error) {
	for i, a := range as {
		if a != nil && isResolved(a) {
			return i, nil
		}
	}
	return -1, nanoact.FromContext(ctx, "aio: race")
}

// Stop stops every aio in as (nanonext's stop_aio on a list): it cancels
// them all, then waits until each has resolved. Those in flight resolve to
// ErrCanceled; those resolved keep their results. Nil entries are skipped.
func Stop(as ...Resolvable) {
	for _, a := range as {
		if c, ok := a.(canceler); ok {
			c.cancelOp()
		}
	}
	for _, a := range as {
		if a != nil {
			a.Stop()
		}
	}
}
