package runner_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
)

// StopOnError: one failing input cancels the rest of the map, queued
// and running, instead of the map waiting for them (issue 17.5).
func TestMapStopOnError(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	boom := errors.New("bad input")
	task := runner.Register(reg, "failfirst", func(ctx context.Context, n int) (int, error) {
		if n == 3 {
			return 0, boom
		}
		<-ctx.Done() // only a cancellation ends the others
		return 0, ctx.Err()
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 2, runner.WithConcurrency(4)); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	in := make([]int, 50)
	for i := range in {
		in[i] = i
	}
	_, err = task.Map(ctx, d, in, runner.StopOnError())
	var me *runner.MapError
	if !errors.As(err, &me) || me.First != 3 || me.Failed != len(in) {
		t.Fatalf("map: %v", err)
	}
	for i, e := range me.Errs {
		switch {
		case i == 3:
			var te *runner.TaskError
			if !errors.As(e, &te) || te.Text != boom.Error() {
				t.Fatalf("input 3: %v", e)
			}
		case !errors.Is(e, nanoact.ErrCanceled) && !errors.Is(e, context.Canceled):
			t.Fatalf("input %d: %v", i, e)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("the map waited for its context")
	}
}
