package runner

import (
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

// Launcher starts daemons as local child processes of this one and stops
// them. It is made by Dispatcher.LaunchLocal; the dispatcher's Close closes
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
	seq   int
	shut  bool
	// restarts counts the processes WithRestart has started.
	restarts int
	// ssh is set for LaunchSSH's launchers (see ssh.go).
	ssh *sshTarget
}

// Proc is one daemon process started by a Launcher.
type Proc struct {
	// ID is the daemon's id (--id), as the dispatcher's Status shows it:
	// launch-N for LaunchLocal, ssh-N for LaunchSSH.
	ID string
	// Host is the host of a LaunchSSH daemon ("" for local ones); the
	// process (Pid, Kill, Err) is then its ssh client.
	Host string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	// joined: a LaunchSSH daemon had joined before its session ended (set
	// before done is closed).
	joined bool
	// replace: killed by the dispatcher for a task that ignored its
	// cancel (interrupt.go); replaced whatever WithRestart says. Under
	// the launcher's mu.
	replace bool
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done returns a channel closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns how the process ended (nil: exit status 0); valid once Done
// is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Kill kills the process at once (SIGKILL), as a crash would: the
// dispatcher re-queues or fails the tasks it was running. It does not
// wait; see Done.
func (p *Proc) Kill() error { return p.cmd.Process.Kill() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// LaunchOption configures LaunchLocal.
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
// for LaunchSSH, only one whose daemon had joined.
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
		return l.startSSH(fmt.Sprintf("ssh-%d", l.seq))
	}
	id := fmt.Sprintf("launch-%d", l.seq)
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

// watch records p and waits for its process on a goroutine of l.wg,
// then runs after (if any), WithOnExit's function and WithRestart.
// l.mu is held.
func (l *Launcher) watch(p *Proc, after func()) {
	l.procs = append(l.procs, p)
	l.wg.Go(func() {
		p.err = p.cmd.Wait()
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
	// An ssh session that ended before its daemon joined is a host or
	// configuration problem that a restart would only repeat.
	restart := p.err != nil && !l.shut && !l.d.closed && l.restarts < l.cfg.restart && (l.ssh == nil || p.joined)
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
	l.log.Log(lv, "daemon process exited", zap.String("daemon", p.ID), zap.Int("pid", p.Pid()), zap.Error(p.err), zap.Bool("restart", restart))
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
