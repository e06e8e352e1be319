package runner_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
)

// MapAsync returns at once, even while its tasks cannot be queued (a
// full queue, no daemons), reports every input as it completes, and
// resolves with the results in input order (issue 17.5).
func TestMapAsync(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, err := runner.NewDispatcher("", runner.WithRegistry(f.reg), runner.WithMaxQueued(2))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxT(t)
	in := make([]int, 20)
	for i := range in {
		in[i] = i
	}
	var steps []runner.MapProgress
	a := f.square.MapAsync(ctx, d, in, runner.ProgressFunc(func(p runner.MapProgress) { steps = append(steps, p) }))
	if a.Resolved() {
		t.Fatal("resolved without daemons")
	}
	if _, err := d.StartDaemons(ctx, 3); err != nil {
		t.Fatal(err)
	}
	out, err := a.Value(ctx)
	if err != nil || len(out) != len(in) {
		t.Fatal(out, err)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
	// steps is written by the aio's goroutine before it resolves.
	var idx []int
	for i, p := range steps {
		if p.Done != i+1 || p.Total != len(in) || p.Failed != 0 || p.Err != nil {
			t.Fatalf("step %d: %+v", i, p)
		}
		idx = append(idx, p.Index)
	}
	slices.Sort(idx)
	if !slices.Equal(idx, in) {
		t.Fatalf("progress reported %v", idx)
	}
}

// Stop on a MapAsync's aio cancels every task not yet finished, queued
// and running, and the aio resolves with what had finished and the
// cancellations; StopOnError does the same at the first failure.
func TestMapAsyncStop(t *testing.T) {
	t.Parallel()
	f := newFixture()
	d, _ := newDispatcher(t, f, 2)
	ctx := ctxT(t)
	a := f.hold.MapAsync(ctx, d, []int{1, 2, 3, 4, 5})
	recv(t, f.g.started)
	recv(t, f.g.started)
	a.Stop()
	out, err := a.Result()
	var me *runner.MapError
	if !errors.As(err, &me) || me.Failed != 5 || !errors.Is(err, nanoact.ErrCanceled) || len(out) != 5 {
		t.Fatalf("stopped: %v %v", out, err)
	}
	recv(t, f.g.ended) // the running ones were cancelled on their daemons
	recv(t, f.g.ended)
	waitStatus(t, d, func(s runner.Status) bool { return s.Executing == 0 && s.Queued == 0 })
	if n := f.runsOf(3) + f.runsOf(4) + f.runsOf(5); n != 0 {
		t.Fatalf("%d queued tasks ran after Stop", n)
	}

	// StopOnError: the failing input stops the others.
	failing := runner.Register(f.reg, "three fails", func(ctx context.Context, n int) (int, error) {
		if n == 3 {
			return 0, errors.New("bad input")
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	var failed int
	out, err = failing.MapAsync(ctx, d, []int{1, 3, 4, 5, 6, 7}, runner.StopOnError(),
		runner.ProgressFunc(func(p runner.MapProgress) { failed = p.Failed })).Value(ctx)
	if !errors.As(err, &me) || me.First != 1 || me.Failed != 6 || failed != 6 || ctx.Err() != nil {
		t.Fatalf("stop on error: %v %v (%d failed)", out, err, failed)
	}
}

// MapAsync's aio resolves at once; ProgressFunc hears of every input.
// With one daemon running one task at a time, they complete in order.
func ExampleMapAsync() {
	reg := runner.NewRegistry()
	square := runner.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		panic(err)
	}
	ctx := context.Background()
	a := square.MapAsync(ctx, d, []int{1, 2, 3}, runner.ProgressFunc(func(p runner.MapProgress) {
		fmt.Printf("input %d done (%d/%d)\n", p.Index, p.Done, p.Total)
	}))
	out, err := a.Value(ctx)
	fmt.Println(out, err)
	// Output:
	// input 0 done (1/3)
	// input 1 done (2/3)
	// input 2 done (3/3)
	// [1 4 9] <nil>
}
