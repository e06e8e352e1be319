// Command taskrunner is a mirai-style task runner: a dispatcher starts 4
// daemons as child processes of this very program (which re-executes
// itself as "taskrunner daemon --dial URL"), runs 1,000 tasks on them,
// kills one daemon midway, and still finishes every task: the task the
// dead daemon was running goes back to the queue. It prints the status
// table and the throughput.
//
//	go run ./examples/taskrunner            # 1,000 tasks on 4 daemons
//	go run ./examples/taskrunner -tasks 10000 -daemons 8
//	go run ./examples/taskrunner -dashboard 127.0.0.1:0 -tasks 100000 -hold 1m
//
// With -dashboard it serves the dispatcher's live page (package
// dashboard) and its Prometheus metrics (/metrics) on that address, one
// httpd server, and prints both URLs; -hold keeps them up that long after
// the run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/dashboard"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

// Steps is the task the daemons run: the number of steps the Collatz
// sequence from N takes to reach 1, after Pause (a stand-in for I/O).
type Steps struct {
	N     int
	Pause time.Duration
}

// tasks is the registry shared by the dispatcher side (for the typed
// handle) and the daemon processes (which run it).
func tasks() (*runner.Registry, runner.Task[Steps, int]) {
	reg := runner.NewRegistry()
	collatz := runner.Register(reg, "collatz", func(ctx context.Context, s Steps) (int, error) {
		if s.Pause > 0 {
			t := time.NewTimer(s.Pause)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		return collatz(s.N), nil
	})
	return reg, collatz
}

func collatz(n int) int {
	steps := 0
	for ; n > 1; steps++ {
		if n%2 == 0 {
			n /= 2
		} else {
			n = 3*n + 1
		}
	}
	return steps
}

func main() {
	reg, _ := tasks()
	if len(os.Args) > 1 && os.Args[1] == "daemon" {
		daemoncmd.Main(reg) // never returns
	}
	n := flag.Int("tasks", 1000, "tasks to run")
	daemons := flag.Int("daemons", 4, "daemon processes")
	pause := flag.Duration("pause", time.Millisecond, "time each task waits before computing")
	dash := flag.String("dashboard", "", "serve the live dashboard and /metrics on this address (e.g. 127.0.0.1:0) and print their URLs")
	hold := flag.Duration("hold", 0, "with -dashboard, keep the page up this long after the run")
	flag.Parse()
	if err := run(os.Stdout, config{tasks: *n, daemons: *daemons, pause: *pause, dashboard: *dash, hold: *hold}); err != nil {
		fmt.Fprintln(os.Stderr, "taskrunner:", err)
		os.Exit(1)
	}
}

type config struct {
	tasks, daemons int
	pause          time.Duration
	launch         []runner.LaunchOption
	dashboard      string        // address of the live page; "" for none
	hold           time.Duration // how long the page stays up after the run
}

func run(w io.Writer, cfg config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, task := tasks()

	d, err := runner.NewDispatcher("")
	if err != nil {
		return err
	}
	defer d.Close()
	if cfg.dashboard != "" {
		srv, err := dashboard.Listen(d, cfg.dashboard, dashboard.WithTitle("taskrunner example"))
		if err != nil {
			return err
		}
		defer srv.Close()
		fmt.Fprintf(w, "dashboard: %s\nmetrics:   %smetrics\n", srv.URL(), srv.URL())
		if cfg.hold > 0 {
			defer func() {
				fmt.Fprintf(w, "holding the dashboard for %v\n", cfg.hold)
				t := time.NewTimer(cfg.hold)
				defer t.Stop()
				<-t.C
			}()
		}
	}
	launcher, err := d.LaunchLocal(cfg.daemons, cfg.launch...)
	if err != nil {
		return err
	}
	if err := d.WaitDaemons(ctx, cfg.daemons); err != nil {
		return fmt.Errorf("daemons did not join: %w", err)
	}
	fmt.Fprintf(w, "%d daemons joined %s\n", cfg.daemons, d.URLs()[len(d.URLs())-1])

	// Submit everything; a task whose daemon dies goes back to the queue.
	start := time.Now()
	var done atomic.Int64
	killAt := int64(cfg.tasks / 2)
	killed := make(chan *runner.Proc, 1)
	as := make([]*aio.Aio[int], cfg.tasks)
	for i := range as {
		as[i] = task.Submit(ctx, d, Steps{N: i + 1, Pause: cfg.pause}, runner.Requeue(3))
		as[i].OnComplete(func(int, error) {
			if done.Add(1) == killAt {
				// Midway: kill a daemon that is running a task.
				p := launcher.Procs()[0]
				_ = p.Kill()
				killed <- p
			}
		})
	}
	vals, errs := aio.CollectAll(ctx, as)
	elapsed := time.Since(start)
	if errs != nil {
		return errors.Join(errs...)
	}
	for i, v := range vals {
		if v != collatz(i+1) {
			return fmt.Errorf("task %d: got %d, want %d", i, v, collatz(i+1))
		}
	}
	victim := <-killed
	<-victim.Done()
	fmt.Fprintf(w, "killed daemon %s (pid %d) after %d tasks: %v\n", victim.ID, victim.Pid(), killAt, victim.Err())

	st, err := d.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprint(w, st)
	fmt.Fprintf(w, "%d tasks in %v: %.0f tasks/s, every result checked\n",
		cfg.tasks, elapsed.Round(time.Millisecond), float64(cfg.tasks)/elapsed.Seconds())
	if st.Completed != int64(cfg.tasks) {
		return fmt.Errorf("status counts %d completed tasks, want %d", st.Completed, cfg.tasks)
	}
	return d.Close() // daemons get bye and exit; Close waits for them
}
