package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// Launcher starts daemons as local child processes of this one (or over
// ssh, or as Slurm jobs) and stops them. It is made by
// Dispatcher.LaunchLocal (LaunchSSH, LaunchSlurm); the dispatcher's Close closes
// it, and it may be closed sooner. Each process costs one goroutine here
// (waiting for it). Its methods are safe for concurrent use.
type Launcher struct {
	d     *Dispatcher
	cfg   launchConfig
	spec  Launch
	log   *zap.Logger
	wg    sync.WaitGroup
	mu    sync.Mutex
	procs []*Proc
	// seq counts the processes started (ssh's tunnel ports follow it);
	// ids come from the dispatcher (nextID).
	seq  int
	shut bool
	// restarts counts the processes WithRestart has started.
	restarts int
	// ssh is set for LaunchSSH's launchers (see ssh.go), slurm for
	// LaunchSlurm's (slurm.go).
	ssh   *sshTarget
	slurm *slurmTarget
	// joins holds, per remote daemon id not yet joined nor exited, the
	// channel the dispatcher closes on its hello (see expect).
	joins map[string]chan struct{}
}

// Proc is one daemon process started by a Launcher.
type Proc struct {
	// ID is the daemon's id (--id), as the dispatcher's Status shows it:
	// launch-N for LaunchLocal, ssh-N for LaunchSSH, slurm-N for
	// LaunchSlurm, N counting per prefix across all the dispatcher's
	// launchers, so that ids are unique on a dispatcher.
	ID string
	// Host is the host of a LaunchSSH daemon ("" for local ones); the
	// process (Pid, Kill, Err) is then its ssh client.
	Host string
	// JobID is the Slurm job id of a LaunchSlurm daemon ("" for others);
	// Kill and Signal then go through scancel, and Err says how the job
	// ended.
	JobID string
	cmd   *exec.Cmd
	job   *slurmJob
	done  chan struct{}
	err   error
	// joined: a remote daemon had joined before its session or job ended
	// (set before done is closed).
	joined bool
	// replace: killed by the dispatcher for a task that ignored its
	// cancel (interrupt.go); replaced whatever WithRestart says. Under
	// the launcher's mu.
	replace bool
}

// Pid returns the process id (0 for a Slurm job: it has no process here).
func (p *Proc) Pid() int {
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Done returns a channel closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns how the process ended (nil: exit status 0); valid once Done
// is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Kill kills the process at once (SIGKILL), as a crash would: the
// dispatcher re-queues or fails the tasks it was running. A Slurm job is
// cancelled instead (scancel: SIGTERM, then SIGKILL after the cluster's
// KillWait). It does not wait; see Done.
func (p *Proc) Kill() error {
	if p.job != nil {
		return p.job.cancel()
	}
	return p.cmd.Process.Kill()
}

// Signal sends sig to the process (for a Slurm job, to its steps, with
// scancel --signal; sig must then be a syscall.Signal such as
// os.Interrupt).
func (p *Proc) Signal(sig os.Signal) error {
	if p.job != nil {
		return p.job.signal(sig)
	}
	return p.cmd.Process.Signal(sig)
}

// LaunchOption configures LaunchLocal, LaunchSSH and LaunchSlurm.
type LaunchOption interface{ applyLaunch(*launchConfig) }

type launchConfig struct {
	exe     string
	leading []string
	args    []string
	out     io.Writer
	grace   time.Duration
	url     string
	env     []string
	restart int
	onExit  func(*Proc)
	sshArgs []string
	join    time.Duration
	tunnel  int // remote port of the first ssh -R tunnel; -1: no tunnel
	// LaunchSlurm's (see slurm.go)
	slurmDir string
	slurmEnv []string
	poll     time.Duration
}

type launchOptionFunc func(*launchConfig)

func (f launchOptionFunc) applyLaunch(c *launchConfig) { f(c) }

// WithExecutable sets the daemons' binary and the arguments that go before
// "daemon" (default: this program, os.Executable(), with none). The binary
// must call daemoncmd.Main (or daemoncmd.MainArgs) with the tasks to run.
func WithExecutable(path string, leading ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.exe, c.leading = path, leading })
}

// WithDaemonArgs adds daemon flags (see daemoncmd.MainArgs), such as "--max", "4".
func WithDaemonArgs(args ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.args = append(c.args, args...) })
}

// WithOutput sends the daemons' standard output and error to w (default:
// discarded). w must be safe for concurrent writes.
func WithOutput(w io.Writer) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.out = w })
}

// WithStopGrace sets how long Close waits for a daemon to exit after bye or
// an interrupt before it kills it (default 5 s).
func WithStopGrace(d time.Duration) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.grace = d })
}

// WithEnv adds NAME=value variables to the daemons' environment (which
// is this process's, plus the token's).
func WithEnv(kv ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.env = append(c.env, kv...) })
}

// WithRestart starts a new daemon process (under a new id) in place of
// one that ends with an error (killed, crashed, its ssh session lost)
// while the launcher is open, at most max times in all (default 0: never);
// for LaunchSSH and LaunchSlurm (a job that ends other than COMPLETED,
// such as one cancelled with scancel), only one whose daemon had joined.
// A daemon that leaves on the dispatcher's bye, or with status 0, is not
// replaced. One the dispatcher killed for a task that ignored its cancel
// (WithInterruptGrace) is always replaced, and does not count.
func WithRestart(max int) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.restart = max })
}

// WithOnExit calls fn, on a goroutine of the launcher, after each daemon
// process has exited (Done is closed; Err says how), before any
// replacement (WithRestart) starts. fn must not block for long nor call
// the launcher's Close.
func WithOnExit(fn func(p *Proc)) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.onExit = fn })
}

// WithURL sets the URL the daemons dial (default: an ipc:// listener in
// the temporary directory, added to the dispatcher on first use).
func WithURL(url string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.url = url })
}

// LaunchLocal starts n daemon processes on this machine (mirai's
// daemons(n)) and returns their launcher; more can be started with Start.
// Each runs exe daemon --dial URL --grace 1s [WithDaemonArgs] --id launch-N,
// with the token in its environment, and exits on the dispatcher's bye, or
// a second after this process has gone away without one. It does not wait for them to join: see WaitDaemons.
// The n daemons share this machine's CPUs: each runs with GOMAXPROCS set
// to this process's GOMAXPROCS divided by n (at least 1), unless
// GOMAXPROCS is set in this process's environment or by WithEnv. On a
// machine with fewer CPUs than daemons this is what keeps a task's round
// trip from waking threads that fight for the same cores (about a third
// more empty tasks/s with 4 daemons on 2 CPUs).
//
// Errors: those of os/exec (the binary cannot be started), of listening on
// the ipc address, ErrClosed after Close.
func (d *Dispatcher) LaunchLocal(n int, opts ...LaunchOption) (*Launcher, error) {
	cfg := launchConfig{grace: 5 * time.Second}
	for _, o := range opts {
		if o != nil {
			o.applyLaunch(&cfg)
		}
	}
	if cfg.exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, nanoact.Errorf(nanoact.CodeNotFound, "runner: launch", "this program's path: %v", err)
		}
		cfg.exe = exe
	}
	cfg.env = localProcs(cfg.env, n)
	if cfg.url == "" {
		u, err := d.ipcURL()
		if err != nil {
			return nil, err
		}
		cfg.url = u
	}
	// A local daemon has no network blip to ride out: if this process
	// dies without a bye, it exits a second later (WithDaemonArgs may say
	// otherwise: the last --grace wins).
	args := append([]string{"--grace", "1s"}, cfg.args...)
	l := &Launcher{d: d, cfg: cfg, spec: d.launchFor(cfg.exe, cfg.url, args), log: d.log.With(zap.String("exe", cfg.exe))}
	if err := d.addLauncher(l, "runner: launch"); err != nil {
		return nil, err
	}
	if _, err := l.Start(n); err != nil {
		return l, err
	}
	return l, nil
}

// addLauncher has the dispatcher's Close close l; ErrClosed (as op)
// after Close.
func (d *Dispatcher) addLauncher(l *Launcher, op string) error {
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	d.lmu.Lock()
	d.launchers = append(d.launchers, l)
	d.lmu.Unlock()
	return nil
}

// ipcURL returns the dispatcher's ipc:// address for local processes,
// listening on it first.
func (d *Dispatcher) ipcURL() (string, error) {
	d.lmu.Lock()
	u := d.ipcAddr
	d.lmu.Unlock()
	if u != "" {
		return u, nil
	}
	u = "ipc://" + filepath.Join(os.TempDir(), "nanoact-"+randomHex(8)+".ipc")
	if _, err := d.listen(u); err != nil {
		return "", err
	}
	d.lmu.Lock()
	defer d.lmu.Unlock()
	if d.ipcAddr == "" {
		d.ipcAddr = u
	}
	return d.ipcAddr, nil
}

// Start starts n more daemon processes and returns them (for LaunchSSH,
// n more ssh sessions; it does not wait for them to join).
func (l *Launcher) Start(n int) ([]*Proc, error) {
	var out []*Proc
	for range n {
		p, err := l.startOne()
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (l *Launcher) startOne() (*Proc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: launch"}
	}
	l.seq++
	if l.ssh != nil {
		return l.startSSH(l.d.nextID("ssh"))
	}
	if l.slurm != nil {
		return l.startSlurm(l.d.nextID("slurm"))
	}
	id := l.d.nextID("launch")
	args := append(append(append([]string{}, l.cfg.leading...), l.spec.Args...), "--id", id)
	cmd := exec.Command(l.spec.Exe, args...)
	cmd.Env = append(append(os.Environ(), l.cfg.env...), l.spec.Env...)
	if l.cfg.out != nil {
		cmd.Stdout, cmd.Stderr = l.cfg.out, l.cfg.out
	}
	if err := cmd.Start(); err != nil {
		return nil, nanoact.Errorf(nanoact.CodeNotFound, "runner: launch "+l.spec.Exe, "%v", err)
	}
	p := &Proc{ID: id, cmd: cmd, done: make(chan struct{})}
	l.watch(p, nil)
	l.log.Info("daemon process started", zap.String("daemon", id), zap.Int("pid", cmd.Process.Pid))
	return p, nil
}

// nextID returns a daemon id for prefix ("local", "launch", "ssh",
// "slurm"): prefix-N, N counting from 1 per prefix across the whole
// dispatcher, so that two launchers never give two daemons one id (the
// interrupt kill and OnDaemon find a daemon by its id). It takes d.lmu.
func (d *Dispatcher) nextID(prefix string) string {
	d.lmu.Lock()
	defer d.lmu.Unlock()
	if d.lseq == nil {
		d.lseq = make(map[string]int)
	}
	d.lseq[prefix]++
	return fmt.Sprintf("%s-%d", prefix, d.lseq[prefix])
}

// remoteSpec is the command remote daemons run: cfg's URL (WithURL) or
// the dispatcher's remote one (see Launch), cfg's exe and daemon args.
func (d *Dispatcher) remoteSpec(cfg launchConfig) (Launch, error) {
	if cfg.url != "" {
		return d.launchFor(cfg.exe, cfg.url, cfg.args), nil
	}
	return d.Launch(cfg.exe, cfg.args...)
}

// launchRemote has the dispatcher's Close close l, runs started (if not
// nil), starts n remote daemons and waits for them to join (awaitJoins).
// On error it closes l and returns nil.
func (d *Dispatcher) launchRemote(ctx context.Context, op string, l *Launcher, n int, started func()) (*Launcher, error) {
	if err := d.addLauncher(l, op); err != nil {
		return nil, err
	}
	if started != nil {
		started()
	}
	procs, err := l.Start(n)
	if err == nil {
		err = l.awaitJoins(ctx, op, procs)
	}
	if err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}

// expect registers remote daemon id with the dispatcher before it is
// started (its hello may come at once): joined is closed on that hello;
// unregister undoes it. l.mu is held.
func (l *Launcher) expect(id string) (joined chan struct{}, unregister func()) {
	joined = make(chan struct{})
	l.d.lmu.Lock()
	if l.d.awaiting == nil {
		l.d.awaiting = make(map[string]chan struct{})
	}
	l.d.awaiting[id] = joined
	l.d.lmu.Unlock()
	if l.joins == nil {
		l.joins = make(map[string]chan struct{})
	}
	l.joins[id] = joined
	return joined, func() {
		l.d.lmu.Lock()
		if l.d.awaiting[id] == joined {
			delete(l.d.awaiting, id)
		}
		l.d.lmu.Unlock()
	}
}

// unexpect runs when remote daemon p has ended, before Done: it
// unregisters p (see expect) and records whether it had joined.
func (l *Launcher) unexpect(p *Proc, joined chan struct{}, unregister func()) {
	unregister()
	select {
	case <-joined:
		p.joined = true
	default:
	}
	l.mu.Lock()
	delete(l.joins, p.ID)
	l.mu.Unlock()
}

// awaitJoins waits until the remote daemons of procs have joined, for at
// most WithJoinTimeout. Errors (as op): one ended before joining
// (ErrUnreachable, with how it ended), ErrTimedOut (with the job's state
// for Slurm), ctx's end, ErrClosed when the dispatcher closes.
func (l *Launcher) awaitJoins(ctx context.Context, op string, procs []*Proc) error {
	d := l.d
	timer := time.NewTimer(l.cfg.join)
	defer timer.Stop()
	for _, p := range procs {
		l.mu.Lock()
		joined := l.joins[p.ID]
		l.mu.Unlock()
		if joined == nil { // joined, or exited, already
			select {
			case <-p.done:
				if !d.hasJoined(p.ID) {
					return nanoact.Errorf(nanoact.CodeUnreachable, op, "daemon %s ended before joining: %v", p.ID, p.err)
				}
			default:
			}
			continue
		}
		select {
		case <-joined:
		case <-p.done:
			select {
			case <-joined: // joined, then left at once
			default:
				return nanoact.Errorf(nanoact.CodeUnreachable, op, "daemon %s ended before joining: %v", p.ID, p.err)
			}
		case <-timer.C:
			what := "daemon " + p.ID
			if p.job != nil {
				what += " (" + p.job.String() + ")"
			}
			return nanoact.Errorf(nanoact.CodeTimedOut, op, "%s did not join within %v", what, l.cfg.join)
		case <-ctx.Done():
			return nanoact.Errorf(nanoact.CodeCanceled, op, "%v", ctx.Err())
		case <-d.life.Done():
			return &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
		}
	}
	return nil
}

// hasJoined reports whether a daemon of this id has said hello (it is
// listed in the status, online or not).
func (d *Dispatcher) hasJoined(id string) bool {
	s, err := d.Status(context.Background())
	if err != nil {
		return false
	}
	for _, ds := range s.Daemons {
		if ds.ID == id {
			return true
		}
	}
	return false
}

// watch records p and waits for its process on a goroutine of l.wg,
// then runs after (if any), WithOnExit's function and WithRestart.
// l.mu is held.
func (l *Launcher) watch(p *Proc, after func()) {
	l.procs = append(l.procs, p)
	l.wg.Go(func() {
		if p.job != nil {
			p.err = p.job.wait()
		} else {
			p.err = p.cmd.Wait()
		}
		if after != nil {
			after()
		}
		close(p.done)
		l.exited(p)
	})
}

// exited reports p's end and starts a replacement when WithRestart asks.
func (l *Launcher) exited(p *Proc) {
	l.mu.Lock()
	l.d.closeMu.RLock()
	// An ssh session or a job that ended before its daemon joined is a
	// host or configuration problem that a restart would only repeat.
	remote := l.ssh != nil || l.slurm != nil
	restart := p.err != nil && !l.shut && !l.d.closed && l.restarts < l.cfg.restart && (!remote || p.joined)
	replace := p.replace && !l.shut && !l.d.closed
	l.d.closeMu.RUnlock()
	if restart && !replace {
		l.restarts++
	}
	restart = restart || replace
	l.mu.Unlock()
	lv := zap.InfoLevel
	if p.err != nil && !l.isShut() {
		lv = zap.WarnLevel
	}
	l.log.Log(lv, "daemon process exited", zap.String("daemon", p.ID), zap.Int("pid", p.Pid()), zap.String("job", p.JobID),
		zap.Error(p.err), zap.Bool("restart", restart))
	if l.cfg.onExit != nil {
		l.cfg.onExit(p)
	}
	if restart {
		if np, err := l.startOne(); err != nil {
			l.log.Warn("daemon process not restarted", zap.String("daemon", p.ID), zap.Error(err))
		} else {
			l.log.Info("daemon process restarted", zap.String("daemon", p.ID), zap.String("as", np.ID))
		}
	}
}

func (l *Launcher) isShut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shut
}

// Procs returns the processes started so far, exited ones included.
func (l *Launcher) Procs() []*Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Proc(nil), l.procs...)
}

// Close stops the launcher's daemons: each still running gets an
// interrupt (it leaves; its running task fails or is re-queued), then
// WithStopGrace to exit before it is killed. It returns once every process
// has exited. A second Close returns ErrClosed. The dispatcher's Close
// first lets them exit on its bye, and interrupts only those that have not
// within WithStopGrace.
func (l *Launcher) Close() error { return l.close(false) }

func (l *Launcher) close(byeSent bool) error {
	l.mu.Lock()
	if l.shut {
		l.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: close launcher"}
	}
	l.shut = true
	procs := append([]*Proc(nil), l.procs...)
	l.mu.Unlock()
	if l.slurm != nil {
		l.slurm.closing()
	}
	// waitAll waits up to the grace time; false if some are still running.
	waitAll := func() bool {
		grace := time.NewTimer(l.cfg.grace)
		defer grace.Stop()
		for _, p := range procs {
			select {
			case <-p.done:
			case <-grace.C:
				return false
			}
		}
		return true
	}
	each := func(fn func(*Proc)) {
		for _, p := range procs {
			select {
			case <-p.done:
			default:
				fn(p)
			}
		}
	}
	if !byeSent || !waitAll() {
		each(func(p *Proc) { _ = p.Signal(os.Interrupt) })
		if !waitAll() {
			each(func(p *Proc) {
				l.log.Warn("daemon process did not exit; killing it", zap.String("daemon", p.ID), zap.Int("pid", p.Pid()))
				_ = p.Kill()
			})
		}
	}
	l.wg.Wait()
	return nil
}
