package promises_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/promises"
)

// resolvers makes n pending promises on l and their settle functions.
func resolvers(l *promises.Loop, n int) ([]*promises.Promise[int], []func(int), []func(error)) {
	ps := make([]*promises.Promise[int], n)
	res := make([]func(int), n)
	rej := make([]func(error), n)
	for i := range n {
		ps[i], res[i], rej[i] = promises.NewResolver[int](l)
	}
	return ps, res, rej
}

func TestAll(t *testing.T) {
	l := newLoop(t)
	boom, late := errors.New("boom"), errors.New("late")

	ps, res, _ := resolvers(l, 3)
	all := promises.All(ps...)
	res[2](30)
	res[0](10)
	if _, err := all.Result(); !errors.Is(err, nanoact.ErrTryAgain) {
		t.Fatalf("All settled before its last input: %v", err)
	}
	res[1](20)
	if v := await(t, all); !slices.Equal(v, []int{10, 20, 30}) {
		t.Fatalf("All = %v, want input order [10 20 30]", v)
	}

	ps, res, rej := resolvers(l, 3)
	all = promises.All(ps...)
	rej[1](boom)
	rej[0](late)
	res[2](1)
	if err := awaitErr(t, all); !errors.Is(err, boom) || errors.Is(err, late) {
		t.Fatalf("All rejected with %v, want the first rejection", err)
	}

	none := await(t, promises.All[int]())
	if none == nil || len(none) != 0 {
		t.Fatalf("All() = %#v, want an empty slice", none)
	}
}

func TestAllSettled(t *testing.T) {
	l := newLoop(t)
	boom := errors.New("boom")
	ps, res, rej := resolvers(l, 3)
	all := promises.AllSettled(ps...)
	rej[1](boom)
	res[0](1)
	res[2](3)
	got := await(t, all)
	if len(got) != 3 || got[0] != (promises.Outcome[int]{Value: 1}) || got[2] != (promises.Outcome[int]{Value: 3}) ||
		got[1].Value != 0 || !errors.Is(got[1].Err, boom) {
		t.Fatalf("AllSettled = %+v", got)
	}
	none := await(t, promises.AllSettled[int]())
	if none == nil || len(none) != 0 {
		t.Fatalf("AllSettled() = %#v, want an empty slice", none)
	}
}

func TestRace(t *testing.T) {
	l := newLoop(t)
	boom := errors.New("boom")

	ps, res, rej := resolvers(l, 3)
	r := promises.Race(ps...)
	res[1](2)
	rej[0](boom)
	res[2](3)
	if v := await(t, r); v != 2 {
		t.Fatalf("Race = %d, want the first to settle (2)", v)
	}

	ps, res, rej = resolvers(l, 2)
	r = promises.Race(ps...)
	rej[1](boom)
	res[0](1)
	if err := awaitErr(t, r); !errors.Is(err, boom) {
		t.Fatalf("Race = %v, want the first rejection", err)
	}

	// Inputs that settled already: the first in the list wins.
	r = promises.Race(promises.Resolved(l, 5), promises.Resolved(l, 6))
	if v := await(t, r); v != 5 {
		t.Fatalf("Race of settled = %d, want 5", v)
	}
	wantCode(t, awaitErr(t, promises.Race[int]()), nanoact.ErrInvalid)
}

func TestAny(t *testing.T) {
	l := newLoop(t)
	e0, e1, e2 := errors.New("e0"), errors.New("e1"), errors.New("e2")

	ps, res, rej := resolvers(l, 3)
	a := promises.Any(ps...)
	rej[0](e0)
	res[2](3)
	res[1](2)
	if v := await(t, a); v != 3 {
		t.Fatalf("Any = %d, want the first fulfilment (3)", v)
	}

	ps, _, rej = resolvers(l, 3)
	a = promises.Any(ps...)
	rej[2](e2)
	rej[0](e0)
	rej[1](e1)
	err := awaitErr(t, a)
	var agg *promises.AggregateError
	if !errors.As(err, &agg) || len(agg.Errs) != 3 || agg.Errs[0] != e0 || agg.Errs[1] != e1 || agg.Errs[2] != e2 {
		t.Fatalf("Any rejected with %v, want an AggregateError of e0 e1 e2 in input order", err)
	}
	if !errors.Is(err, e1) {
		t.Fatalf("errors.Is does not see through %v", err)
	}

	err = awaitErr(t, promises.Any[int]())
	if !errors.As(err, &agg) || len(agg.Errs) != 0 {
		t.Fatalf("Any() rejected with %v, want an empty AggregateError", err)
	}
	if got := err.Error(); got != "promises: any: all 0 promises rejected" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestCombinatorsAcrossLoops(t *testing.T) {
	l0, l1 := newLoop(t), newLoop(t)
	p1, res1, _ := promises.NewResolver[int](l1)
	all := promises.All(promises.Resolved(l0, 1), p1)
	if all.Loop() != l0 {
		t.Fatal("All's result is not on the loop of its first input")
	}
	res1(2)
	if v := await(t, all); !slices.Equal(v, []int{1, 2}) {
		t.Fatalf("All = %v", v)
	}

	// Closing the loop of one input rejects it, and so the result on the
	// other loop, at once.
	p2, _, _ := promises.NewResolver[int](l1)
	all = promises.All(promises.Resolved(l0, 1), p2)
	settled := promises.AllSettled(promises.Resolved(l0, 1), p2)
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, awaitErr(t, all), nanoact.ErrClosed)
	out := await(t, settled)
	wantCode(t, out[1].Err, nanoact.ErrClosed)
}
