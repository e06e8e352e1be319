package runner_test

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

// setups counts, in a daemon process, the runs of its "setup" task.
var setups atomic.Int64

// seededTasks registers the tasks of the seed and Everywhere tests, run
// by in-process daemons and by the daemon processes of
// TestHelperSeedDaemon alike.
func seededTasks(reg *runner.Registry) {
	// sim draws from the task's random stream: a stand-in for a random
	// simulation.
	runner.Register(reg, "sim", func(ctx context.Context, n int) ([]uint64, error) {
		r, _ := runner.RandFrom(ctx)
		out := make([]uint64, 3)
		for i := range out {
			out[i] = r.Uint64() + uint64(n)
		}
		return out, nil
	})
	runner.Register(reg, "seed", func(ctx context.Context, _ int) (uint64, error) {
		s, _ := runner.SeedFrom(ctx)
		return s, nil
	})
	runner.Register(reg, "setup", func(context.Context, int) (int, error) {
		setups.Add(1)
		return os.Getpid(), nil
	})
	// state says which process runs it and how many setups it has run.
	runner.Register(reg, "state", func(context.Context, int) ([2]int64, error) {
		return [2]int64{int64(os.Getpid()), setups.Load()}, nil
	})
}

// TestHelperSeedDaemon is not a test: it is the daemon process the seed
// and Everywhere tests start.
func TestHelperSeedDaemon(t *testing.T) {
	args := flag.Args()
	if len(args) == 0 || args[0] != "daemon" {
		t.Skip("run as a daemon process by the seed and everywhere tests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	reg := runner.NewRegistry()
	seededTasks(reg)
	code := daemoncmd.MainArgs(ctx, reg, args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// launchSeeded starts n daemon processes of TestHelperSeedDaemon.
func launchSeeded(t *testing.T, d *runner.Dispatcher, n int, opts ...runner.LaunchOption) (*runner.Launcher, *syncBuffer) {
	t.Helper()
	out := new(syncBuffer)
	l, err := d.LaunchLocal(n, append([]runner.LaunchOption{runner.WithExecutable(os.Args[0], "-test.run=^TestHelperSeedDaemon$"),
		runner.WithOutput(out), runner.WithStopGrace(5 * time.Second), quickExit}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitDaemons(ctxT(t), n); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return l, out
}
