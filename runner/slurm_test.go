package runner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/runner"
)

// slurmSelf launches this test binary as the daemon on the test cluster.
func slurmSelf(s *testkit.Slurm, out *syncBuffer, more ...runner.LaunchOption) []runner.LaunchOption {
	return append([]runner.LaunchOption{runner.WithSlurmCommands("", s.Env...),
		runner.WithExecutable(os.Args[0], "-test.run=^TestHelperDaemonProcess$"), runner.WithOutput(out),
		runner.WithDaemonArgs("--log", "info"), runner.WithEnv("GORACE=atexit_sleep_ms=0"),
		runner.WithPollInterval(100 * time.Millisecond), runner.WithJoinTimeout(20 * time.Second)}, more...)
}

// activeJobs returns the cluster's jobs that are pending or running.
func activeJobs(t *testing.T, s *testkit.Slurm) string {
	t.Helper()
	out, err := s.Command("squeue", "-h", "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING", "-o", "%i %T").CombinedOutput()
	if err != nil {
		t.Fatalf("squeue: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// jobLogs returns the jobs' output files in dir, for failure messages.
func jobLogs(dir string) string {
	var b strings.Builder
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if c, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			b.WriteString("--- " + e.Name() + ":\n" + string(c))
		}
	}
	return b.String()
}

// Daemons submitted to a real Slurm run tasks; the token is on no
// command line; a job cancelled with scancel is reported, its daemon
// leaves, and WithRestart submits a replacement; the dispatcher's Close
// lets the rest complete, and leaves no job and no daemon behind.
func TestLaunchSlurm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Slurm and processes")
	}
	s := testkit.StartSlurm(t)
	d, err := runner.NewDispatcher("tls+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	url := d.URL()
	exits := make(chan *runner.Proc, 8)
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logs := t.TempDir()
	// --export=NONE: what the daemons need comes from the script, which
	// exports the token and WithEnv's variables (srun's SLURM_CONF here).
	o := runner.BatchOptions{Partition: s.Partition, Time: "00:10:00", Memory: "64M", Output: filepath.Join(logs, "job-%j.out"),
		Extra: []string{"--export=NONE"}}
	l, err := d.LaunchSlurm(ctx, 2, o, slurmSelf(s, &out, runner.WithEnv(s.Env...), runner.WithRestart(1),
		runner.WithOnExit(func(p *runner.Proc) { exits <- p }))...)
	if err != nil {
		t.Fatalf("%v\n%s\n%s\n%s", err, out.String(), jobLogs(logs), s.Log())
	}
	st := status(t, d)
	if st.Connections != 2 || len(st.Daemons) != 2 || !strings.HasPrefix(st.Daemons[0].ID, "slurm-") {
		t.Fatalf("status %+v", st)
	}
	procs := l.Procs()
	if len(procs) != 2 || procs[0].JobID == "" || procs[0].JobID == procs[1].JobID || procs[0].Pid() != 0 {
		t.Fatalf("procs %+v", procs)
	}
	if a := activeJobs(t, s); a != procs[0].JobID+" RUNNING\n"+procs[1].JobID+" RUNNING" &&
		a != procs[1].JobID+" RUNNING\n"+procs[0].JobID+" RUNNING" {
		t.Fatalf("squeue:\n%s", a)
	}
	pid, err := runner.Submit[int](ctx, d, "pid", struct{}{}).Value(ctx)
	if err != nil || pid == os.Getpid() || pid == 0 {
		t.Fatalf("pid %d %v", pid, err)
	}
	// The token is on no daemon's command line (nor srun's, which holds
	// the same words).
	token := d.Token()
	pids := daemonsOf(url)
	daemons := 0
	for _, p := range pids {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline"); strings.HasPrefix(string(b), os.Args[0]+"\x00") {
			daemons++
		}
	}
	if daemons != 2 {
		t.Fatalf("daemon processes %v", pids)
	}
	for _, p := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), token) || !strings.Contains(string(b), "\x00--id\x00slurm-") {
			t.Fatalf("command line of %d: %q", p, b)
		}
	}

	// Cancel the first job as a user or an administrator would.
	first := procs[0]
	if b, err := s.Command("scancel", first.JobID).CombinedOutput(); err != nil {
		t.Fatalf("scancel: %v %s", err, b)
	}
	// It is reported, its daemon leaves, a replacement job's joins.
	replaced(ctx, t, d, exits, first, "job "+first.JobID+": CANCELLED", 2)
	if n := len(l.Procs()); n != 3 || l.Procs()[2].JobID == "" {
		t.Fatalf("%d jobs", n)
	}
	squares(ctx, t, d, 8)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The live ones left on the dispatcher's bye: their jobs completed.
	for _, p := range l.Procs()[1:] {
		if err := p.Err(); err != nil {
			t.Fatalf("%s: %v\n%s", p.ID, err, jobLogs(logs))
		}
	}
	if a := activeJobs(t, s); a != "" {
		t.Fatalf("jobs left:\n%s", a)
	}
	waitNoDaemons(t, url)
	if !strings.Contains(jobLogs(logs), "bye from the dispatcher") {
		t.Fatalf("daemon logs:\n%s", jobLogs(logs))
	}
}

// sbatch missing, sbatch refusing the job, a job that never starts and
// one whose daemon cannot run each fail LaunchSlurm with an error naming
// the job; no daemon is counted and no job is left. Then a launcher
// closed on its own stops its job.
func TestLaunchSlurmBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Slurm and processes")
	}
	s := testkit.StartSlurm(t)
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	logs := t.TempDir()
	o := runner.BatchOptions{Partition: s.Partition, Output: filepath.Join(logs, "job-%j.out")}
	bad := o
	bad.Partition = "nosuch"
	held := o
	held.Extra = []string{"--begin=now+1hour"}
	cases := []struct {
		name string
		o    runner.BatchOptions
		opts []runner.LaunchOption
		code error
		want []string
	}{
		{"no sbatch", o, []runner.LaunchOption{runner.WithSlurmCommands(t.TempDir(), s.Env...)}, nanoact.ErrNotFound,
			[]string{"job nanoact-slurm-", "sbatch"}},
		{"refused", bad, nil, nanoact.ErrInvalid, []string{"job nanoact-slurm-", "Invalid partition"}},
		{"never starts", held, []runner.LaunchOption{runner.WithJoinTimeout(2 * time.Second)}, nanoact.ErrTimedOut,
			[]string{"daemon slurm-", ": PENDING (BeginTime)", "did not join within 2s"}},
		{"missing exe", o, []runner.LaunchOption{runner.WithExecutable("/nonexistent/nanoact")}, nanoact.ErrUnreachable,
			[]string{"daemon slurm-", "ended before joining", ": FAILED"}},
	}
	for _, c := range cases {
		var exits []*runner.Proc
		opts := append(append(slurmSelf(s, &out), c.opts...), runner.WithRestart(3),
			runner.WithOnExit(func(p *runner.Proc) { exits = append(exits, p) }))
		l, err := d.LaunchSlurm(ctx, 1, c.o, opts...)
		if l != nil || err == nil {
			t.Fatalf("%s: launched", c.name)
		}
		t.Logf("%s: %v", c.name, err)
		var ne *nanoact.Error
		if !errors.As(err, &ne) || !errors.Is(err, c.code) {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%s: %v lacks %q", c.name, err, w)
			}
		}
		// A submitted job ended (and was reported) before LaunchSlurm
		// returned, and was not resubmitted: it never joined.
		if c.code == nanoact.ErrTimedOut || c.code == nanoact.ErrUnreachable {
			if len(exits) != 1 || exits[0].JobID == "" || !strings.Contains(err.Error(), "job "+exits[0].JobID) {
				t.Fatalf("%s: exits %v", c.name, exits)
			}
		} else if len(exits) != 0 {
			t.Fatalf("%s: exits %v", c.name, exits)
		}
		if a := activeJobs(t, s); a != "" {
			t.Fatalf("%s: jobs left:\n%s", c.name, a)
		}
	}
	st := status(t, d)
	if st.Connections != 0 || len(st.Daemons) != 0 {
		t.Fatalf("status %+v", st)
	}

	// The launcher's own Close, before the dispatcher's: the daemon is
	// interrupted (scancel --signal), leaves, and its job completes.
	l, err := d.LaunchSlurm(ctx, 1, o, slurmSelf(s, &out)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, jobLogs(logs))
	}
	t0 := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("close took %v", time.Since(t0))
	if err := l.Procs()[0].Err(); err != nil {
		t.Fatalf("%v\n%s", err, jobLogs(logs))
	}
	if a := activeJobs(t, s); a != "" {
		t.Fatalf("jobs left:\n%s", a)
	}
	waitStatus(t, d, func(s runner.Status) bool { return s.Connections == 0 && len(s.Daemons) == 1 })
}
