package promises

import (
	"strconv"

	"github.com/nanoact/nanoact"
)

// The combinators wait for several promises at once. Each returns a
// promise on the loop of ps[0] (Default when ps is empty), whose internal
// continuations, one per input, run there too, so inputs may come from
// several loops. A nil input rejects the result with ErrInvalid. Each costs
// two or three allocations plus one per input, and one hop per input.

// Outcome is how one promise settled, as AllSettled reports it: Value and a
// nil Err if it fulfilled, the zero T and the rejection if it rejected.
type Outcome[T any] struct {
	Value T
	Err   error
}

// AggregateError is the rejection of Any when no promise fulfilled. Errs
// holds each input's rejection in input order (none for Any of nothing);
// errors.Is and errors.As look through all of them.
type AggregateError struct {
	Errs []error
}

// Error returns "promises: any: all N promises rejected", followed by the
// first error if there is one.
func (e *AggregateError) Error() string {
	s := "promises: any: all " + strconv.Itoa(len(e.Errs)) + " promises rejected"
	if len(e.Errs) > 0 && e.Errs[0] != nil {
		s += ": " + e.Errs[0].Error()
	}
	return s
}

// Unwrap returns Errs.
func (e *AggregateError) Unwrap() []error { return e.Errs }

// inputs returns the loop the result of a combinator lives on, and an
// error if an input is nil.
func inputs[T any](op string, ps []*Promise[T]) (*Loop, error) {
	var l *Loop
	bad := -1
	for i, p := range ps {
		switch {
		case p == nil && bad < 0:
			bad = i
		case p != nil && l == nil:
			l = p.loop
		}
	}
	l = orDefault(l)
	if bad >= 0 {
		return l, nanoact.Errorf(nanoact.CodeInvalid, op, "nil promise at index %d", bad)
	}
	return l, nil
}

// open readies s, a new promise, on l; see openLocked.
func (s *state) open(l *Loop) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return s.openLocked(l)
}

type allState[T any] struct {
	out  Promise[[]T]
	vals []T
	left int // touched only by the tasks, which run on out's loop
}

type allTask[T any] struct {
	st  *allState[T]
	src *Promise[T]
	i   int
}

func (t *allTask[T]) owner() *Loop { return t.st.out.loop }

func (t *allTask[T]) run() {
	st, src := t.st, t.src
	t.src = nil
	if st.out.status.Load() != pending {
		return
	}
	if src.status.Load() != fulfilled {
		st.out.reject(src.err)
		return
	}
	st.vals[t.i] = src.val
	if st.left--; st.left == 0 {
		st.out.resolve(st.vals)
	}
}

// All returns a promise fulfilled with the values of ps, in input order,
// once all have fulfilled, or rejected with the first rejection to happen
// (the other inputs are then ignored). All of no promises fulfils with an
// empty slice. It does not block.
func All[T any](ps ...*Promise[T]) *Promise[[]T] {
	const op = "promises: all"
	l, err := inputs(op, ps)
	if err != nil {
		return Rejected[[]T](l, err)
	}
	st := &allState[T]{vals: make([]T, len(ps)), left: len(ps)}
	if !st.out.open(l) {
		return &st.out
	}
	if len(ps) == 0 {
		st.out.resolve(st.vals)
		return &st.out
	}
	tasks := make([]allTask[T], len(ps))
	for i, p := range ps {
		tasks[i] = allTask[T]{st: st, src: p, i: i}
		p.react(&tasks[i])
	}
	return &st.out
}

type settledState[T any] struct {
	out  Promise[[]Outcome[T]]
	res  []Outcome[T]
	left int
}

type settledTask[T any] struct {
	st  *settledState[T]
	src *Promise[T]
	i   int
}

func (t *settledTask[T]) owner() *Loop { return t.st.out.loop }

func (t *settledTask[T]) run() {
	st, src := t.st, t.src
	t.src = nil
	st.res[t.i].Value, st.res[t.i].Err = src.outcome()
	if st.left--; st.left == 0 {
		st.out.resolve(st.res)
	}
}

// AllSettled returns a promise fulfilled, once every promise in ps has
// settled, with how each did, in input order. It never rejects, except
// with ErrClosed when its loop closes first (or ErrInvalid for a nil
// input). AllSettled of no promises fulfils with an empty slice.
func AllSettled[T any](ps ...*Promise[T]) *Promise[[]Outcome[T]] {
	const op = "promises: all settled"
	l, err := inputs(op, ps)
	if err != nil {
		return Rejected[[]Outcome[T]](l, err)
	}
	st := &settledState[T]{res: make([]Outcome[T], len(ps)), left: len(ps)}
	if !st.out.open(l) {
		return &st.out
	}
	if len(ps) == 0 {
		st.out.resolve(st.res)
		return &st.out
	}
	tasks := make([]settledTask[T], len(ps))
	for i, p := range ps {
		tasks[i] = settledTask[T]{st: st, src: p, i: i}
		p.react(&tasks[i])
	}
	return &st.out
}

// Race returns a promise that settles as the first promise in ps to settle
// does, fulfilled or rejected; the others are ignored. Among inputs that
// have settled already, the first in ps wins. Race of no promises would
// never settle, so it rejects at once with ErrInvalid.
func Race[T any](ps ...*Promise[T]) *Promise[T] {
	const op = "promises: race"
	l, err := inputs(op, ps)
	if err == nil && len(ps) == 0 {
		err = nanoact.Errorf(nanoact.CodeInvalid, op, "no promises")
	}
	if err != nil {
		return Rejected[T](l, err)
	}
	out := &Promise[T]{}
	if !out.open(l) {
		return out
	}
	tasks := make([]passTask[T], len(ps))
	for i, p := range ps {
		tasks[i] = passTask[T]{out: out, src: p}
		p.react(&tasks[i])
	}
	return out
}

type anyState[T any] struct {
	out  Promise[T]
	errs []error
	left int
}

type anyTask[T any] struct {
	st  *anyState[T]
	src *Promise[T]
	i   int
}

func (t *anyTask[T]) owner() *Loop { return t.st.out.loop }

func (t *anyTask[T]) run() {
	st, src := t.st, t.src
	t.src = nil
	if st.out.status.Load() != pending {
		return
	}
	if src.status.Load() == fulfilled {
		st.out.resolve(src.val)
		return
	}
	st.errs[t.i] = src.err
	if st.left--; st.left == 0 {
		st.out.reject(&AggregateError{Errs: st.errs})
	}
}

// Any returns a promise fulfilled with the value of the first promise in ps
// to fulfil, or, if all reject, rejected with an *AggregateError holding
// every rejection in input order. Any of no promises rejects at once with
// an empty *AggregateError.
func Any[T any](ps ...*Promise[T]) *Promise[T] {
	const op = "promises: any"
	l, err := inputs(op, ps)
	if err != nil {
		return Rejected[T](l, err)
	}
	if len(ps) == 0 {
		return Rejected[T](l, &AggregateError{Errs: []error{}})
	}
	st := &anyState[T]{errs: make([]error, len(ps)), left: len(ps)}
	if !st.out.open(l) {
		return &st.out
	}
	tasks := make([]anyTask[T], len(ps))
	for i, p := range ps {
		tasks[i] = anyTask[T]{st: st, src: p, i: i}
		p.react(&tasks[i])
	}
	return &st.out
}
