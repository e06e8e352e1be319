// Command cluster runs the same Map on daemons that are local processes,
// on another host over SSH, or Slurm jobs: only the launch line changes
// (chosen here by -on). The daemons are this very program, re-executed
// as "cluster daemon --dial URL"; on another host or a cluster's nodes
// it must be at the same path (a shared file system), or give -exe.
//
//	go run ./examples/cluster                                  # 4 local processes
//	go run ./examples/cluster -on ssh -host me@node1 -advertise head.example.org
//	go run ./examples/cluster -on slurm -partition short -advertise head.example.org
//
// Over SSH and Slurm the dispatcher listens on tls+tcp:// (-listen): the
// daemons get its certificate and the session token with their command
// (never on a command line), and must be able to reach -advertise and the
// port (see the README's "Daemons on other machines").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

// tasks is the registry shared by the dispatcher (for the typed handle)
// and the daemons (which run it).
func tasks() (*runner.Registry, runner.Task[int, int]) {
	reg := runner.NewRegistry()
	square := runner.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	return reg, square
}

func main() {
	reg, _ := tasks()
	if len(os.Args) > 1 && os.Args[1] == "daemon" {
		daemoncmd.Main(reg) // never returns
	}
	var cfg config
	flag.StringVar(&cfg.on, "on", "local", "where the daemons run: local, ssh or slurm")
	flag.IntVar(&cfg.daemons, "daemons", 4, "daemons to start")
	flag.IntVar(&cfg.tasks, "tasks", 100, "tasks to run (squares of 1..N)")
	flag.StringVar(&cfg.host, "host", "", "ssh: the host (user@host, as ssh takes it)")
	flag.StringVar(&cfg.partition, "partition", "", "slurm: the partition (default: the cluster's)")
	flag.StringVar(&cfg.output, "output", "", "slurm: the jobs' output file (default: slurm-JOBID.out here)")
	flag.StringVar(&cfg.exe, "exe", "", "ssh, slurm: this program's path there (default: its path here)")
	flag.StringVar(&cfg.listen, "listen", "tls+tcp://0.0.0.0:0", "ssh, slurm: the dispatcher's listener")
	flag.StringVar(&cfg.advertise, "advertise", "", "ssh, slurm: the host name daemons dial (default: this host's name)")
	flag.Parse()
	if err := run(os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

type config struct {
	on                      string
	daemons, tasks          int
	host, partition, output string
	exe, listen, advertise  string
	sshArgs                 []string              // tests: how to reach their sshd
	launch                  []runner.LaunchOption // tests: more launch options
}

// run starts the dispatcher and the daemons, maps square over 1..tasks,
// checks the results and prints how many each daemon ran.
func run(w io.Writer, cfg config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, square := tasks()
	listen := ""
	if cfg.on != "local" {
		listen = cfg.listen
	}
	var dopts []runner.DispatcherOption
	if cfg.advertise != "" {
		dopts = append(dopts, runner.WithAdvertise(cfg.advertise))
	}
	d, err := runner.NewDispatcher(listen, dopts...)
	if err != nil {
		return err
	}
	defer d.Close() // bye: the daemons exit, their sessions or jobs end
	exe := cfg.exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return err
		}
	}
	opts := append([]runner.LaunchOption{runner.WithExecutable(exe)}, cfg.launch...)

	// The one line that changes with where the daemons run.
	switch cfg.on {
	case "local":
		_, err = d.LaunchLocal(cfg.daemons, opts...)
		if err == nil {
			err = d.WaitDaemons(ctx, cfg.daemons)
		}
	case "ssh":
		_, err = d.LaunchSSH(ctx, cfg.host, cfg.daemons, append(opts, runner.WithSSHArgs(cfg.sshArgs...))...)
	case "slurm":
		_, err = d.LaunchSlurm(ctx, cfg.daemons, runner.BatchOptions{Partition: cfg.partition, Time: "00:30:00", Output: cfg.output}, opts...)
	default:
		err = fmt.Errorf("-on %q: local, ssh or slurm", cfg.on)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d daemons joined (%s)\n", cfg.daemons, cfg.on)

	in := make([]int, cfg.tasks)
	for i := range in {
		in[i] = i + 1
	}
	out, err := square.Map(ctx, d, in)
	if err != nil {
		return err
	}
	sum := 0
	for i, v := range out {
		if v != in[i]*in[i] {
			return fmt.Errorf("square(%d) = %d", in[i], v)
		}
		sum += v
	}
	if want := cfg.tasks * (cfg.tasks + 1) * (2*cfg.tasks + 1) / 6; sum != want {
		return errors.New("wrong sum")
	}
	fmt.Fprintf(w, "sum of the squares of 1..%d = %d\n", cfg.tasks, sum)
	s, err := d.Status(ctx)
	if err != nil {
		return err
	}
	for _, ds := range s.Daemons {
		fmt.Fprintf(w, "  %-10s ran %d\n", ds.ID, ds.Completed)
	}
	return nil
}
