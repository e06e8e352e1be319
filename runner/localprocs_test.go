package runner_test

import (
	"os"
	"runtime"
	"testing"

	"github.com/nanoact/nanoact/runner"
)

// procsOf launches n local daemon processes with opts and returns the
// GOMAXPROCS a task sees on one of them.
func procsOf(t *testing.T, n int, opts ...runner.LaunchOption) int {
	t.Helper()
	d, err := runner.NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	var out syncBuffer
	if _, err := d.LaunchLocal(n, append(launchSelf(&out), opts...)...); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := d.WaitDaemons(ctx, n); err != nil {
		t.Fatalf("%v; daemons said: %s", err, out.String())
	}
	p, err := runner.TaskNamed[struct{}, int]("procs").Submit(ctx, d, struct{}{}).Value(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Local daemon processes share this process's CPUs (GOMAXPROCS divided
// among them, at least 1), unless WithEnv sets GOMAXPROCS.
func TestLaunchLocalShareCPUs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		t.Skip("GOMAXPROCS is set in the environment: the daemons inherit it")
	}
	t.Parallel()
	if got, want := procsOf(t, 2), max(1, runtime.GOMAXPROCS(0)/2); got != want {
		t.Errorf("2 daemons: GOMAXPROCS %d, want %d", got, want)
	}
	if got := procsOf(t, 1, runner.WithEnv("GOMAXPROCS=3")); got != 3 {
		t.Errorf("WithEnv(GOMAXPROCS=3): GOMAXPROCS %d", got)
	}
}
