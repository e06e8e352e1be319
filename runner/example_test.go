package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/runner"
)

// A dispatcher with in-process daemons: tasks are registered functions,
// each submission an aio.
func ExampleSubmit() {
	reg := runner.NewRegistry()
	square := runner.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	runner.Register(reg, "fail", func(_ context.Context, why string) (int, error) {
		return 0, &nanoact.Error{Code: nanoact.CodeNotSupported, Err: errors.New(why)}
	})

	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 2); err != nil {
		panic(err)
	}

	ctx := context.Background()
	a, b := square.Submit(ctx, d, 7), square.Submit(ctx, d, 8)
	vals, _ := aio.CollectAll(ctx, []*aio.Aio[int]{a, b})
	fmt.Println(vals)

	_, err = runner.Submit[int](ctx, d, "fail", "not today").Value(ctx)
	fmt.Println(errors.Is(err, nanoact.ErrNotSupported))
	// Output:
	// [49 64]
	// true
}

// Map runs a task over many inputs and returns the results in order,
// collecting failures by index.
func ExampleMap() {
	reg := runner.NewRegistry()
	inv := runner.Register(reg, "inverse", func(_ context.Context, x float64) (float64, error) {
		if x == 0 {
			return 0, errors.New("division by zero")
		}
		return 1 / x, nil
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 3); err != nil {
		panic(err)
	}

	out, err := inv.Map(context.Background(), d, []float64{1, 2, 0, 4})
	fmt.Println(out)
	var me *runner.MapError
	if errors.As(err, &me) {
		fmt.Println(me.Failed, "failed; input 2:", me.Errs[2].(*runner.TaskError).Text)
	}
	// Output:
	// [1 0.5 0 0.25]
	// 1 failed; input 2: division by zero
}

// Launch gives the command a remote machine runs to join over TLS; it
// renders as a shell line, an SSH command, a Slurm script or a Kubernetes
// Job.
func ExampleDispatcher_Launch() {
	d, err := runner.NewDispatcher("tls+tcp://0.0.0.0:0", runner.WithAdvertise("head.example.org"))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	spec, err := d.Launch("/opt/app/bin/app", "--max", "4")
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(spec.Args[2], "tls+tcp://head.example.org:"))
	for _, kv := range spec.Env {
		name, _, _ := strings.Cut(kv, "=")
		fmt.Println(name)
	}
	script := spec.Slurm(runner.SlurmOptions{Daemons: 16})
	fmt.Println(strings.Contains(script, "#SBATCH --ntasks=16"), strings.Contains(script, "srun --export=ALL /opt/app/bin/app daemon --dial tls+tcp://"))
	// Output:
	// true
	// NANOACT_TOKEN
	// NANOACT_TLS_CA
	// true true
}

// Status counts tasks and daemons at any time.
func ExampleDispatcher_Status() {
	reg := runner.NewRegistry()
	nop := runner.Register(reg, "nop", func(context.Context, int) (int, error) { return 0, nil })
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 2, runner.WithConcurrency(4)); err != nil {
		panic(err)
	}
	ctx := context.Background()
	if _, err := nop.Map(ctx, d, make([]int, 100)); err != nil {
		panic(err)
	}
	s, err := d.Status(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Connections, s.Completed, s.Queued, s.Executing, s.Daemons[0].Max)
	// Output:
	// 2 100 0 0 4
}
