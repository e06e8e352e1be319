package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/nanoact/nanoact/dashboard"
	"github.com/nanoact/nanoact/runner"
)

// demoWork is the demo load's task: sleep for MS milliseconds, then fail
// if Fail is set.
type demoWork struct {
	MS   float64
	Fail bool
}

// dashboardConfig is the dashboard command's flags.
type dashboardConfig struct {
	addr, listen    string
	daemons, max    int
	rate, taskMS    float64
	fail            float64
	interval, until time.Duration
}

// Dashboard returns the dashboard command: a dispatcher with in-process
// daemons and a demo load, its live page and its Prometheus metrics.
func (commands) Dashboard() *cobra.Command {
	var c dashboardConfig
	cmd := &cobra.Command{
		Use:   "dashboard [flags]",
		Short: "Serve the live dashboard and /metrics of a dispatcher running a demo load",
		Long: `dashboard starts a task-runner dispatcher with --daemons in-process daemons,
submits a demo load (--rate tasks a second, each sleeping about --task-ms, a
--fail fraction of them failing), and serves the dispatcher's live page and its
Prometheus metrics (/metrics) on --addr. It prints both URLs and runs until
interrupted (or for --duration).

With --listen URL the dispatcher also listens there, and other daemons may join
it: the command they run is printed ("nanoact daemon --dial URL" with the
session token in the environment).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if c.daemons < 0 || c.max < 1 || c.rate < 0 || c.taskMS < 0 || c.fail < 0 || c.fail > 1 {
				return usageError{errors.New("dashboard: --daemons >= 0, --max >= 1, --rate, --task-ms >= 0 and --fail in [0, 1]")}
			}
			return runDashboard(cmd.Context(), cmd, c)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.addr, "addr", "127.0.0.1:8080", "HTTP `ADDRESS` of the page and /metrics (port 0: any free port)")
	fl.StringVar(&c.listen, "listen", "", "also listen for daemons on `URL` (e.g. tcp://0.0.0.0:5555)")
	fl.IntVar(&c.daemons, "daemons", 4, "in-process daemons")
	fl.IntVar(&c.max, "max", 1, "tasks each daemon runs at once")
	fl.Float64Var(&c.rate, "rate", 50, "demo tasks submitted per second (0: none)")
	fl.Float64Var(&c.taskMS, "task-ms", 40, "mean duration of a demo task in milliseconds (exponential)")
	fl.Float64Var(&c.fail, "fail", 0.02, "fraction of demo tasks that fail")
	fl.DurationVar(&c.interval, "interval", time.Second, "how often the page is updated")
	fl.DurationVar(&c.until, "duration", 0, "stop after this long (0: run until interrupted)")
	return cmd
}

func runDashboard(ctx context.Context, cmd *cobra.Command, c dashboardConfig) error {
	out := cmd.OutOrStdout()
	if c.until > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.until)
		defer cancel()
	}
	reg := builtinTasks()
	work := runner.Register(reg, "demo", func(ctx context.Context, w demoWork) (float64, error) {
		t := time.NewTimer(time.Duration(w.MS * float64(time.Millisecond)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if w.Fail {
			return 0, errors.New("demo failure")
		}
		return w.MS, nil
	})
	opts := []runner.DispatcherOption{runner.WithRegistry(reg)}
	if c.listen != "" {
		opts = append(opts, runner.WithListen(c.listen))
	}
	d, err := runner.NewDispatcher("", opts...)
	if err != nil {
		return err
	}
	defer d.Close()
	if c.daemons > 0 {
		if _, err := d.StartDaemons(ctx, c.daemons, runner.WithConcurrency(c.max)); err != nil {
			return err
		}
	}

	// The page and /metrics, on one httpd server.
	srv, err := dashboard.Listen(d, c.addr, dashboard.WithInterval(c.interval), dashboard.WithTitle("nanoact dashboard (demo)"),
		dashboard.WithMetricsName("demo"))
	if err != nil {
		return err
	}
	defer srv.Close()

	fmt.Fprintf(out, "dashboard: %s\nmetrics:   %smetrics\n", srv.URL(), srv.URL())
	if c.listen != "" {
		exe, _ := os.Executable()
		if l, err := d.Launch(exe); err == nil {
			fmt.Fprintf(out, "daemons join with: %s\n", l)
		}
	}

	// The demo load: a ticker hands out submissions to enough workers to
	// keep every daemon busy; each waits for its task.
	var wg sync.WaitGroup
	if c.rate > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) / c.rate))
		defer tick.Stop()
		for range max(1, 2*c.daemons*c.max) {
			wg.Go(func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					w := demoWork{MS: rand.ExpFloat64() * c.taskMS, Fail: rand.Float64() < c.fail}
					_, _ = work.Submit(ctx, d, w).Value(ctx)
				}
			})
		}
	}
	<-ctx.Done()
	wg.Wait()
	fmt.Fprintln(out, "stopping")
	if err := srv.Close(); err != nil {
		return err
	}
	return d.Close()
}
