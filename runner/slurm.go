package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// WithSlurmCommands has LaunchSlurm run sbatch, squeue and scancel from
// dir ("": found on PATH, the default) with env (NAME=value) added to
// their environment, e.g. "SLURM_CONF=/etc/slurm-lab/slurm.conf" for a
// cluster other than the default one. sbatch passes its environment on
// to the jobs (its --export=ALL default).
func WithSlurmCommands(dir string, env ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.slurmDir, c.slurmEnv = dir, append(c.slurmEnv, env...) })
}

// WithPollInterval sets how often LaunchSlurm asks squeue how its jobs
// are (default 5 s; every 250 ms at most during a job's first minute
// until its daemon joins, and while the launcher closes). A job's end is
// seen within one interval. Zero or negative: LaunchSlurm fails with
// ErrInvalid.
func WithPollInterval(d time.Duration) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.poll = d })
}

// slurmFast is the poll interval while daemons are due to join (for
// slurmFastFor after their submission: a job that queues for longer is
// polled at the usual pace) or the launcher closes; slurmGone bounds how
// long a cancelled job may go unreported before its Proc ends anyway
// (Slurm unreachable).
const (
	slurmFast    = 250 * time.Millisecond
	slurmFastFor = time.Minute
	slurmGone    = 15 * time.Second
)

// slurmTarget is what a LaunchSlurm launcher needs to submit one more
// job and to watch its jobs.
type slurmTarget struct {
	opts BatchOptions
	spec Launch // the daemon's command (without --id) and environment
	dir  string
	env  []string
	poll time.Duration
	out  io.Writer // sbatch's and scancel's messages too (WithOutput)
	log  *zap.Logger
	wake chan struct{}

	mu   sync.Mutex
	live map[string]*slurmJob // by job id, until they end
	shut bool
}

// slurmJob is one submitted job: one daemon.
type slurmJob struct {
	t      *slurmTarget
	id     string // Slurm's job id
	daemon string
	since  time.Time // submitted
	joined chan struct{}
	ended  chan struct{}
	err    error // how it ended, once ended is closed

	mu            sync.Mutex
	state, reason string    // squeue's last word ("": not yet asked)
	cancelled     time.Time // first scancel
}

// LaunchSlurm submits n daemons to Slurm with sbatch, one job each
// (mirai's cluster_config), and watches them. Each job runs the batch
// script Launch.Slurm renders from o (o.Daemons is 1; JobName defaults to
// nanoact-ID):
//
//	srun exe [leading...] daemon --dial URL [daemon args] --id slurm-N
//
// with exe and URL as for LaunchSSH (WithExecutable's path on the
// cluster's nodes, default "nanoact"; the dispatcher's remote URL, or
// WithURL). The token, and for TLS the certificate, are exported by the
// script, which sbatch reads on its standard input: they are on no
// command line and in no file here (Slurm keeps the script, readable by
// its owner and Slurm's administrators, while the job lives). WithEnv's
// variables are exported by the script too; WithSlurmCommands says where
// sbatch, squeue and scancel are and how they reach the cluster.
//
// It records the jobs' ids (Proc.JobID) and polls their state with
// squeue (WithPollInterval). A job that ends is reported (at Warn unless
// it completed, and through WithOnExit, its Err naming the job and its
// state: COMPLETED is nil, CANCELLED, FAILED, TIMEOUT... are errors), and
// with WithRestart one that ends with an error after its daemon joined is
// replaced by a new job. Close (and the dispatcher's) cancels the jobs
// with scancel: the dispatcher's bye lets joined daemons leave first,
// jobs whose daemon has not joined are cancelled at once, and the rest
// after WithStopGrace. WithOutput receives sbatch's and scancel's
// messages; the jobs' own output goes where o.Output says (default:
// Slurm's slurm-JOBID.out in this process's working directory).
//
// It blocks until the n daemons have joined. Errors, naming the daemon
// and the job: ErrNotFound when sbatch is missing; ErrInvalid when sbatch
// refuses the job (its message is in the error); ErrUnreachable when a
// job ends before its daemon joined (a missing exe, an unreachable
// dispatcher); ErrTimedOut when the daemons have not all joined within
// WithJoinTimeout (default 10 minutes, queueing included; the error holds
// the job's state and Slurm's reason, such as PENDING (Resources));
// ErrState when the dispatcher has no listener remote daemons can reach;
// ctx's end; ErrClosed after Close. On error every job it submitted is
// cancelled, none counts as a daemon, and nil is returned.
func (d *Dispatcher) LaunchSlurm(ctx context.Context, n int, o BatchOptions, opts ...LaunchOption) (*Launcher, error) {
	op := "runner: launch on slurm"
	cfg := launchConfig{grace: 5 * time.Second, exe: "nanoact", join: 10 * time.Minute, poll: 5 * time.Second}
	for _, opt := range opts {
		if opt != nil {
			opt.applyLaunch(&cfg)
		}
	}
	if cfg.poll <= 0 {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "poll interval %v", cfg.poll)
	}
	spec, err := d.remoteSpec(cfg)
	if err != nil {
		return nil, err
	}
	// The token and certificate come last: WithEnv cannot replace them.
	spec.Env = append(append([]string{}, cfg.env...), spec.Env...)
	spec.Args = append(append([]string{}, cfg.leading...), spec.Args...)
	log := d.log.With(zap.String("scheduler", "slurm"), zap.String("exe", cfg.exe))
	t := &slurmTarget{opts: o, spec: spec, dir: cfg.slurmDir, env: cfg.slurmEnv, poll: cfg.poll, out: cfg.out, log: log,
		wake: make(chan struct{}, 1), live: make(map[string]*slurmJob)}
	t.opts.Daemons = 1
	l := &Launcher{d: d, cfg: cfg, spec: spec, slurm: t, log: log}
	return d.launchRemote(ctx, op, l, n, func() { l.wg.Go(t.loop) })
}

// startSlurm submits the job of daemon id; l.mu is held (so Close waits
// for sbatch, and finds the job).
func (l *Launcher) startSlurm(id string) (*Proc, error) {
	t := l.slurm
	op := "runner: launch " + id + " on slurm"
	spec := t.spec
	spec.Args = append(append([]string{}, spec.Args...), "--id", id)
	o := t.opts
	if o.JobName == "" {
		o.JobName = "nanoact-" + id
	}
	joined, unregister := l.expect(id)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	out, err := t.run(ctx, "sbatch", spec.Slurm(o), "--parsable")
	cancel()
	jobID, _, _ := strings.Cut(out, ";") // "id" or "id;cluster"
	if err == nil && (jobID == "" || strings.ContainsAny(jobID, " \n")) {
		err = fmt.Errorf("sbatch: no job id in %q", out)
	}
	if err != nil {
		unregister()
		delete(l.joins, id)
		code := nanoact.CodeInvalid
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = nanoact.CodeNotFound
		}
		return nil, nanoact.Errorf(code, op, "job %s: %v", o.JobName, err)
	}
	job := &slurmJob{t: t, id: jobID, daemon: id, since: time.Now(), joined: joined, ended: make(chan struct{})}
	t.mu.Lock()
	t.live[jobID] = job
	t.mu.Unlock()
	t.kick()
	p := &Proc{ID: id, JobID: jobID, job: job, done: make(chan struct{})}
	l.watch(p, func() { l.unexpect(p, joined, unregister) })
	l.log.Info("daemon job submitted", zap.String("daemon", id), zap.String("job", jobID))
	return p, nil
}

// run runs one of Slurm's commands with stdin (if not "") and returns
// its standard output, trimmed; its error holds what it said on stderr.
func (t *slurmTarget) run(ctx context.Context, name, stdin string, args ...string) (string, error) {
	bin := name
	if t.dir != "" {
		bin = filepath.Join(t.dir, name)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), t.env...)
	cmd.WaitDelay = time.Second
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if t.out != nil && name != "squeue" {
		cmd.Stderr = io.MultiWriter(&stderr, t.out)
	}
	err := cmd.Run()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// kick has the poller look at the jobs now.
func (t *slurmTarget) kick() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// closing runs when the launcher closes: the poller polls fast and ends
// once every job has, and jobs whose daemon has not joined (no bye can
// reach them) are cancelled at once.
func (t *slurmTarget) closing() {
	t.mu.Lock()
	t.shut = true
	var waiting []*slurmJob
	for _, j := range t.live {
		select {
		case <-j.joined:
		default:
			waiting = append(waiting, j)
		}
	}
	t.mu.Unlock()
	for _, j := range waiting {
		_ = j.cancel()
	}
	t.kick()
}

// loop polls the live jobs' states until the launcher has closed and
// every job has ended. It runs on the launcher's wait group.
func (t *slurmTarget) loop() {
	timer := time.NewTimer(t.poll)
	defer timer.Stop()
	for {
		t.mu.Lock()
		n, shut, fast := len(t.live), t.shut, t.shut
		for _, j := range t.live {
			select {
			case <-j.joined:
			default:
				fast = fast || time.Since(j.since) < slurmFastFor
			}
		}
		t.mu.Unlock()
		if n == 0 && shut {
			return
		}
		iv := t.poll
		if fast && iv > slurmFast {
			iv = slurmFast
		}
		timer.Reset(iv)
		if n == 0 {
			<-t.wake
		} else {
			select {
			case <-timer.C:
			case <-t.wake:
			}
		}
		t.refresh()
	}
}

// slurmEnded are the states of a job that has ended (squeue's %T).
var slurmEnded = map[string]bool{"COMPLETED": true, "CANCELLED": true, "FAILED": true, "TIMEOUT": true, "NODE_FAIL": true,
	"PREEMPTED": true, "BOOT_FAIL": true, "DEADLINE": true, "OUT_OF_MEMORY": true, "SPECIAL_EXIT": true, "REVOKED": true}

// refresh asks squeue for the live jobs' states and ends the jobs that
// have ended, that Slurm no longer knows, or that were cancelled long
// ago without a word from Slurm since.
func (t *slurmTarget) refresh() {
	t.mu.Lock()
	jobs := make([]*slurmJob, 0, len(t.live))
	ids := make([]string, 0, len(t.live))
	for id, j := range t.live {
		jobs = append(jobs, j)
		ids = append(ids, id)
	}
	t.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	sort.Strings(ids)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	out, err := t.run(ctx, "squeue", "", "-h", "--states=all", "-o", "%i|%T|%r", "-j", strings.Join(ids, ","))
	cancel()
	known := err == nil
	if err != nil && strings.Contains(err.Error(), "Invalid job id") {
		known, out = true, "" // none of them is known any more
	} else if err != nil {
		t.log.Warn("squeue failed", zap.Error(err))
	}
	states := map[string][2]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.SplitN(line, "|", 3); len(f) == 3 {
			states[f[0]] = [2]string{f[1], f[2]}
		}
	}
	for _, j := range jobs {
		st, seen := states[j.id]
		j.mu.Lock()
		if seen {
			j.state, j.reason = st[0], st[1]
		}
		cancelled := j.cancelled
		j.mu.Unlock()
		switch {
		case seen && slurmEnded[st[0]]:
			var err error
			if st[0] != "COMPLETED" {
				err = fmt.Errorf("slurm %s", j)
			}
			t.end(j, err)
		case known && !seen:
			t.end(j, fmt.Errorf("slurm job %s: no longer known to Slurm", j.id))
		case !cancelled.IsZero() && time.Since(cancelled) > slurmGone:
			t.end(j, fmt.Errorf("slurm %s: cancelled %v ago, its end not reported", j, slurmGone))
		}
	}
}

// end records how j ended and wakes its watcher.
func (t *slurmTarget) end(j *slurmJob, err error) {
	t.mu.Lock()
	delete(t.live, j.id)
	t.mu.Unlock()
	j.err = err
	close(j.ended)
}

// String says "job ID: STATE (reason)", as squeue last did.
func (j *slurmJob) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := "job " + j.id
	if j.state != "" {
		s += ": " + j.state
		if j.reason != "" && j.reason != "None" {
			s += " (" + j.reason + ")"
		}
	}
	return s
}

// wait blocks until the job has ended and says how.
func (j *slurmJob) wait() error {
	<-j.ended
	return j.err
}

// cancel cancels the job (scancel).
func (j *slurmJob) cancel() error {
	j.mu.Lock()
	if j.cancelled.IsZero() {
		j.cancelled = time.Now()
	}
	j.mu.Unlock()
	defer j.t.kick()
	return j.scancel()
}

// signal sends sig to the job's steps (scancel --signal).
func (j *slurmJob) signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return nanoact.Errorf(nanoact.CodeInvalid, "runner: signal slurm job "+j.id, "signal %v", sig)
	}
	return j.scancel(fmt.Sprintf("--signal=%d", int(s)))
}

func (j *slurmJob) scancel(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := j.t.run(ctx, "scancel", "", append(args, j.id)...); err != nil {
		return nanoact.Errorf(nanoact.CodeInternal, "runner: cancel slurm job "+j.id+" of "+j.daemon, "%v", err)
	}
	return nil
}
