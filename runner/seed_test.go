package runner_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/nanoact/nanoact/runner"
)

// simRun maps "sim" over 40 inputs, then submits it twice more, on a
// dispatcher with seed that has n in-process daemons (or, with procs, n
// daemon processes), and returns every result.
func simRun(t *testing.T, n int, procs bool, opts ...runner.DispatcherOption) [][]uint64 {
	t.Helper()
	reg := runner.NewRegistry()
	seededTasks(reg)
	d, err := runner.NewDispatcher("", append([]runner.DispatcherOption{runner.WithRegistry(reg)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if procs {
		launchSeeded(t, d, n) // bounded by contexts of its own
	}
	// The tasks' bound starts once the daemons run: under load, starting
	// four race-built processes can take most of ten seconds.
	ctx := ctxT(t)
	if !procs {
		if _, err := d.StartDaemons(ctx, n, runner.WithConcurrency(2)); err != nil {
			t.Fatal(err)
		}
	}
	sim := runner.TaskNamed[int, []uint64]("sim")
	in := make([]int, 40)
	out, err := sim.Map(ctx, d, in) // every input the same: only the seed differs
	if err != nil {
		t.Fatal(err)
	}
	a, b := sim.Submit(ctx, d, 0), sim.Submit(ctx, d, 0)
	for _, x := range []interface {
		Value(context.Context) ([]uint64, error)
	}{a, b} {
		v, err := x.Value(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	seen := make(map[uint64]bool)
	for i, v := range out {
		if seen[v[0]] {
			t.Fatalf("task %d drew the same as an earlier one: %v", i, v)
		}
		seen[v[0]] = true
	}
	return out
}

// Reproducible random streams (issue 17.7): the same dispatcher seed
// gives the same draws with 1 daemon or 4, in-process or in processes
// (the seed crosses the wire); another seed, or none, gives others.
func TestSeedReproducible(t *testing.T) {
	t.Parallel()
	one := simRun(t, 1, false, runner.WithSeed(42))
	four := simRun(t, 4, false, runner.WithSeed(42))
	if !reflect.DeepEqual(one, four) {
		t.Fatalf("seed 42: 1 daemon and 4 differ:\n%v\n%v", one, four)
	}
	if other := simRun(t, 4, false, runner.WithSeed(43)); reflect.DeepEqual(one, other) || one[0][0] == other[0][0] {
		t.Fatal("seeds 42 and 43 drew the same")
	}
	if r1, r2 := simRun(t, 2, false), simRun(t, 2, false); r1[0][0] == r2[0][0] {
		t.Fatal("two dispatchers without WithSeed drew the same")
	}
	if testing.Short() {
		return
	}
	if procs := simRun(t, 4, true, runner.WithSeed(42)); !reflect.DeepEqual(one, procs) {
		t.Fatalf("seed 42: in-process and 4 daemon processes differ:\n%v\n%v", one, procs)
	}
}

// SeedFrom is the task's seed inside a task and nothing elsewhere;
// RandFrom outside a task is still a usable generator.
func TestSeedFrom(t *testing.T) {
	t.Parallel()
	if _, ok := runner.SeedFrom(context.Background()); ok {
		t.Fatal("a seed in a plain context")
	}
	if r, ok := runner.RandFrom(context.Background()); ok || r == nil {
		t.Fatal("RandFrom on a plain context")
	}
	reg := runner.NewRegistry()
	seededTasks(reg)
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg), runner.WithSeed(0))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		t.Fatal(err)
	}
	seed := runner.TaskNamed[int, uint64]("seed")
	s1, err1 := seed.Submit(ctx, d, 0).Value(ctx)
	s2, err2 := seed.Submit(ctx, d, 0).Value(ctx)
	if err1 != nil || err2 != nil || s1 == 0 || s2 == 0 || s1 == s2 {
		t.Fatalf("seeds %d %v, %d %v", s1, err1, s2, err2)
	}
}
