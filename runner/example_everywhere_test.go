package runner_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/nanoact/nanoact/runner"
)

// Everywhere runs a setup task once on every daemon and gives each
// daemon's result by id; with OnJoin, a daemon that joins later runs it
// too, before its first task, until the handle's Stop. OnDaemon sends a
// task to one daemon.
func ExampleEverywhere() {
	reg := runner.NewRegistry()
	var loaded atomic.Int64
	load := runner.Register(reg, "load model", func(_ context.Context, name string) (string, error) {
		loaded.Add(1)
		return name + " loaded", nil
	})
	square := runner.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	ctx := context.Background()
	if _, err := d.StartDaemons(ctx, 2); err != nil {
		panic(err)
	}

	joined := make(chan string, 1)
	onJoin := runner.OnJoin(func(id string, err error) { joined <- id })
	res, err := load.Everywhere(ctx, d, "tiny", onJoin)
	ids := make([]string, 0, len(res))
	for id := range res {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Println(id, res[id].Value, res[id].Err)
	}
	fmt.Println(err)

	if _, err := d.StartDaemons(ctx, 1); err != nil {
		panic(err)
	}
	fmt.Println("joined:", <-joined, "runs:", loaded.Load())
	v, err := square.Submit(ctx, d, 7, runner.OnDaemon("local-3")).Value(ctx)
	fmt.Println(v, err)

	// Stop unregisters: local-4 joins without loading the model.
	fmt.Println("stopped:", onJoin.Stop())
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		panic(err)
	}
	v, err = square.Submit(ctx, d, 8, runner.OnDaemon("local-4")).Value(ctx)
	fmt.Println(v, err, "runs:", loaded.Load())
	// Output:
	// local-1 tiny loaded <nil>
	// local-2 tiny loaded <nil>
	// <nil>
	// joined: local-3 runs: 3
	// 49 <nil>
	// stopped: true
	// 64 <nil> runs: 3
}
