package rpc

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/nanoact/nanoact"
)

// Environment variables a daemon process reads (see MainArgs). The token
// travels in the environment rather than on the command line, where other
// users of the machine could read it.
const (
	EnvToken = "NANOACT_TOKEN"  // the session token
	EnvDial  = "NANOACT_DIAL"   // the dispatcher's URL, if --dial is not given
	EnvTLSCA = "NANOACT_TLS_CA" // the dispatcher's certificate: PEM, base64-encoded
)

// Launch is the command a daemon process runs to join a dispatcher:
// Exe with Args, and Env added to its environment. Its methods render it
// as a shell command line, an SSH command, a Slurm batch script or a
// Kubernetes Job manifest; they only generate text (nothing is run, no
// network is used). The text holds the session token: treat it as a
// secret.
type Launch struct {
	// Exe is the daemon's binary on the machine that runs it.
	Exe string
	// Args follow Exe: "daemon", "--dial", the URL, then daemon flags.
	Args []string
	// Env holds NAME=value pairs for the daemon's environment: the token
	// (EnvToken) and, for TLS, the certificate (EnvTLSCA).
	Env []string
}

// Launch returns the command a remote machine runs to join the
// dispatcher: exe daemon --dial URL [daemonArgs...], with the token and,
// for a TLS URL, the certificate in the environment. URL is the first
// listener that is not inproc://, with its host replaced by the advertised
// one when it is a wildcard (see Advertise). exe is the path of the
// daemon's binary on that machine: a program that calls Main with the
// same registry, or nanoact itself for its built-in tasks.
//
// Errors: ErrState if the dispatcher listens only on inproc:// (give it a
// tcp://, tls+tcp:// or ws:// URL, or AlsoListen).
func (d *Dispatcher) Launch(exe string, daemonArgs ...string) (Launch, error) {
	for _, u := range d.URLs() {
		if strings.HasPrefix(u, "inproc://") {
			continue
		}
		if strings.HasPrefix(u, "ipc://") || strings.HasPrefix(u, "unix://") || strings.HasPrefix(u, "abstract://") {
			continue
		}
		return d.launchFor(exe, d.remoteURL(u), daemonArgs), nil
	}
	return Launch{}, nanoact.Errorf(nanoact.CodeState, "rpc: launch", "no listener for remote daemons (tcp://, tls+tcp://, ws://, wss://)")
}

func (d *Dispatcher) launchFor(exe, url string, daemonArgs []string) Launch {
	args := []string{"daemon", "--dial", url}
	if d.cfg.maxFrame != DefaultMaxFrame {
		args = append(args, "--max-frame", strconv.Itoa(d.cfg.maxFrame))
	}
	l := Launch{Exe: exe, Args: append(args, daemonArgs...), Env: []string{EnvToken + "=" + d.token}}
	if isTLSURL(url) {
		if pem := d.CertPEM(); pem != nil {
			l.Env = append(l.Env, EnvTLSCA+"="+base64.StdEncoding.EncodeToString(pem))
		}
	}
	return l
}

// remoteURL replaces a wildcard host in u by the advertised host.
func (d *Dispatcher) remoteURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	hostport, path, _ := strings.Cut(rest, "/")
	host, port := hostport, ""
	if i := strings.LastIndex(hostport, ":"); i >= 0 && !strings.HasSuffix(hostport, "]") {
		host, port = hostport[:i], hostport[i:]
	}
	switch strings.Trim(host, "[]") {
	case "", "0.0.0.0", "::", "*":
		host = d.advertiseHost(u)
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	default:
		if d.cfg.advertise != "" {
			host = d.cfg.advertise
		}
	}
	out := scheme + "://" + host + port
	if path != "" || strings.Contains(rest, "/") {
		out += "/" + path
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@+,%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (l Launch) argv() string {
	parts := []string{shellQuote(l.Exe)}
	for _, a := range l.Args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func envQuote(kv string) string {
	k, v, _ := strings.Cut(kv, "=")
	return k + "=" + shellQuote(v)
}

// String returns the POSIX shell command line: NAME=value ... exe args.
func (l Launch) String() string {
	parts := make([]string, 0, len(l.Env)+1)
	for _, kv := range l.Env {
		parts = append(parts, envQuote(kv))
	}
	return strings.Join(append(parts, l.argv()), " ")
}

// SSH returns an ssh command line that runs the daemon on host (user@host
// as ssh takes it), with sshArgs (such as "-f" to go to the background,
// "-p", "2222") before the host.
func (l Launch) SSH(host string, sshArgs ...string) string {
	parts := []string{"ssh"}
	for _, a := range sshArgs {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(append(parts, shellQuote(host), shellQuote(l.String())), " ")
}

// SlurmOptions shapes a Slurm batch script.
type SlurmOptions struct {
	JobName     string   // default "nanoact-daemons"
	Daemons     int      // --ntasks: one daemon per task (default 1)
	CPUsPerTask int      // --cpus-per-task (0: not set)
	Time        string   // --time, e.g. "01:00:00" ("": not set)
	Extra       []string // more #SBATCH arguments, e.g. "--partition=short"
}

// Slurm returns a batch script for sbatch that starts o.Daemons daemons
// with srun.
func (l Launch) Slurm(o SlurmOptions) string {
	if o.JobName == "" {
		o.JobName = "nanoact-daemons"
	}
	if o.Daemons < 1 {
		o.Daemons = 1
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n#SBATCH --ntasks=%d\n", o.JobName, o.Daemons)
	if o.CPUsPerTask > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", o.CPUsPerTask)
	}
	if o.Time != "" {
		fmt.Fprintf(&b, "#SBATCH --time=%s\n", o.Time)
	}
	for _, e := range o.Extra {
		fmt.Fprintf(&b, "#SBATCH %s\n", e)
	}
	for _, kv := range l.Env {
		fmt.Fprintf(&b, "export %s\n", envQuote(kv))
	}
	fmt.Fprintf(&b, "srun %s\n", l.argv())
	return b.String()
}

// KubernetesOptions shapes a Kubernetes Job manifest.
type KubernetesOptions struct {
	Name      string // default "nanoact-daemons"
	Namespace string // "": not set
	Image     string // the image holding Exe (required by Kubernetes)
	Daemons   int    // parallelism and completions (default 1)
	CPU       string // resources.requests.cpu, e.g. "1" ("": not set)
	Memory    string // resources.requests.memory, e.g. "512Mi"
	// TokenSecret names a Secret whose key "token" holds the session
	// token; the manifest then refers to it instead of holding the token.
	TokenSecret string
}

// Kubernetes returns a batch/v1 Job manifest (YAML) that runs o.Daemons
// daemon pods, which exit when the dispatcher says bye.
func (l Launch) Kubernetes(o KubernetesOptions) string {
	if o.Name == "" {
		o.Name = "nanoact-daemons"
	}
	if o.Daemons < 1 {
		o.Daemons = 1
	}
	q := strconv.Quote // a JSON-style string is a valid YAML scalar
	var b strings.Builder
	b.WriteString("apiVersion: batch/v1\nkind: Job\nmetadata:\n")
	fmt.Fprintf(&b, "  name: %s\n", q(o.Name))
	if o.Namespace != "" {
		fmt.Fprintf(&b, "  namespace: %s\n", q(o.Namespace))
	}
	fmt.Fprintf(&b, "spec:\n  parallelism: %d\n  completions: %d\n  backoffLimit: 0\n", o.Daemons, o.Daemons)
	b.WriteString("  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: daemon\n")
	fmt.Fprintf(&b, "        image: %s\n", q(o.Image))
	cmd := make([]string, 0, len(l.Args)+1)
	for _, a := range append([]string{l.Exe}, l.Args...) {
		cmd = append(cmd, q(a))
	}
	fmt.Fprintf(&b, "        command: [%s]\n", strings.Join(cmd, ", "))
	if len(l.Env) > 0 {
		b.WriteString("        env:\n")
		for _, kv := range l.Env {
			k, v, _ := strings.Cut(kv, "=")
			if k == EnvToken && o.TokenSecret != "" {
				fmt.Fprintf(&b, "        - name: %s\n          valueFrom:\n            secretKeyRef:\n              name: %s\n              key: token\n", k, q(o.TokenSecret))
				continue
			}
			fmt.Fprintf(&b, "        - name: %s\n          value: %s\n", k, q(v))
		}
	}
	if o.CPU != "" || o.Memory != "" {
		b.WriteString("        resources:\n          requests:\n")
		if o.CPU != "" {
			fmt.Fprintf(&b, "            cpu: %s\n", q(o.CPU))
		}
		if o.Memory != "" {
			fmt.Fprintf(&b, "            memory: %s\n", q(o.Memory))
		}
	}
	return b.String()
}

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
}

// Proc is one daemon process started by a Launcher.
type Proc struct {
	// ID is the daemon's id (--id), as the dispatcher's Status shows it.
	ID   string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
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
}

type launchOptionFunc func(*launchConfig)

func (f launchOptionFunc) applyLaunch(c *launchConfig) { f(c) }

// LaunchExecutable sets the daemons' binary and the arguments that go before
// "daemon" (default: this program, os.Executable(), with none). The binary
// must call Main (or MainArgs) with the tasks to run.
func LaunchExecutable(path string, leading ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.exe, c.leading = path, leading })
}

// LaunchArgs adds daemon flags (see MainArgs), such as "--max", "4".
func LaunchArgs(args ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.args = append(c.args, args...) })
}

// LaunchOutput sends the daemons' standard output and error to w (default:
// discarded). w must be safe for concurrent writes.
func LaunchOutput(w io.Writer) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.out = w })
}

// LaunchGrace sets how long Close waits for a daemon to exit after bye or
// an interrupt before it kills it (default 5 s).
func LaunchGrace(d time.Duration) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.grace = d })
}

// LaunchEnv adds NAME=value variables to the daemons' environment (which
// is this process's, plus the token's).
func LaunchEnv(kv ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.env = append(c.env, kv...) })
}

// LaunchURL sets the URL the daemons dial (default: an ipc:// listener in
// the temporary directory, added to the dispatcher on first use).
func LaunchURL(url string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.url = url })
}

// LaunchLocal starts n daemon processes on this machine (mirai's
// daemons(n)) and returns their launcher; more can be started with Start.
// Each runs exe daemon --dial URL --grace 1s [LaunchArgs] --id launch-N,
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
			return nil, nanoact.Errorf(nanoact.CodeNotFound, "rpc: launch", "this program's path: %v", err)
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
	// dies without a bye, it exits a second later (LaunchArgs may say
	// otherwise: the last --grace wins).
	args := append([]string{"--grace", "1s"}, cfg.args...)
	l := &Launcher{d: d, cfg: cfg, spec: d.launchFor(cfg.exe, cfg.url, args), log: d.log.With(zap.String("exe", cfg.exe))}
	d.closeMu.RLock()
	if d.closed {
		d.closeMu.RUnlock()
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "rpc: launch"}
	}
	d.lmu.Lock()
	d.launchers = append(d.launchers, l)
	d.lmu.Unlock()
	d.closeMu.RUnlock()
	if _, err := l.Start(n); err != nil {
		return l, err
	}
	return l, nil
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

// Start starts n more daemon processes and returns them.
func (l *Launcher) Start(n int) ([]*Proc, error) {
	var out []*Proc
	for range n {
		l.mu.Lock()
		if l.shut {
			l.mu.Unlock()
			return out, &nanoact.Error{Code: nanoact.CodeClosed, Op: "rpc: launch"}
		}
		l.seq++
		id := fmt.Sprintf("launch-%d", l.seq)
		args := append(append(append([]string{}, l.cfg.leading...), l.spec.Args...), "--id", id)
		cmd := exec.Command(l.spec.Exe, args...)
		cmd.Env = append(append(os.Environ(), l.cfg.env...), l.spec.Env...)
		if l.cfg.out != nil {
			cmd.Stdout, cmd.Stderr = l.cfg.out, l.cfg.out
		}
		if err := cmd.Start(); err != nil {
			l.mu.Unlock()
			return out, nanoact.Errorf(nanoact.CodeNotFound, "rpc: launch "+l.spec.Exe, "%v", err)
		}
		p := &Proc{ID: id, cmd: cmd, done: make(chan struct{})}
		l.procs = append(l.procs, p)
		l.wg.Go(func() {
			p.err = cmd.Wait()
			close(p.done)
			l.log.Info("daemon process exited", zap.String("daemon", id), zap.Int("pid", cmd.Process.Pid), zap.Error(p.err))
		})
		l.mu.Unlock()
		l.log.Info("daemon process started", zap.String("daemon", id), zap.Int("pid", cmd.Process.Pid))
		out = append(out, p)
	}
	return out, nil
}

// Procs returns the processes started so far, exited ones included.
func (l *Launcher) Procs() []*Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Proc(nil), l.procs...)
}

// Close stops the launcher's daemons: each still running gets an
// interrupt (it leaves; its running task fails or is re-queued), then
// LaunchGrace to exit before it is killed. It returns once every process
// has exited. A second Close returns ErrClosed. The dispatcher's Close
// first lets them exit on its bye, and interrupts only those that have not
// within LaunchGrace.
func (l *Launcher) Close() error { return l.close(false) }

func (l *Launcher) close(byeSent bool) error {
	l.mu.Lock()
	if l.shut {
		l.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "rpc: close launcher"}
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

// Main runs a daemon process for the tasks in reg and exits: call it
// first thing in main when the program is started as a daemon, e.g.
//
//	if len(os.Args) > 1 && os.Args[1] == "daemon" {
//		rpc.Main(reg)
//	}
//
// It reads the command line after "daemon" (see MainArgs), stops on
// SIGINT or SIGTERM, and exits with status 0 when the dispatcher let it
// go, 1 when it failed, 2 for a usage error. It never returns.
func Main(reg *Registry, opts ...DaemonOption) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "daemon" {
		args = args[1:]
	}
	code := MainArgs(ctx, reg, args, os.Stderr, opts...)
	stop()
	os.Exit(code)
}

// MainArgs runs a daemon for the tasks in reg as the command line args
// (without "daemon") asks, logs to stderr, and returns the exit status: 0
// when the dispatcher let it go (bye) or ctx ended, 1 when it failed
// (refused, connection lost, dial failed), 2 for a usage error. It blocks
// for the daemon's life. opts come before the flags' own. Flags:
//
//	--dial URL       the dispatcher (or $NANOACT_DIAL)
//	--token TOKEN    the session token (default $NANOACT_TOKEN)
//	--tls-ca FILE    PEM certificate to trust (default: base64 PEM in $NANOACT_TLS_CA)
//	--id ID          the daemon's id (default host/pid/n)
//	--max N          tasks run at once (default 1)
//	--tasks N        exit after N tasks (default 0: no limit)
//	--idle DURATION  leave after this long without a task (default 0: never)
//	--grace DURATION exit when the connection stays lost this long (default 10s)
//	--max-frame N    largest task or result in bytes (MaxFrame; default 64 MiB)
//	--log LEVEL      debug, info, warn (default), error, or none
func MainArgs(ctx context.Context, reg *Registry, args []string, stderr io.Writer, opts ...DaemonOption) int {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dial := fs.String("dial", os.Getenv(EnvDial), "URL of the dispatcher")
	token := fs.String("token", "", "session token (default $"+EnvToken+")")
	caFile := fs.String("tls-ca", "", "PEM certificate to trust (default: base64 PEM in $"+EnvTLSCA+")")
	id := fs.String("id", "", "daemon id (default host/pid/n)")
	maxc := fs.Int("max", 1, "tasks run at once")
	tasks := fs.Int("tasks", 0, "exit after this many tasks (0: no limit)")
	idle := fs.Duration("idle", 0, "leave after this long without a task (0: never)")
	grace := fs.Duration("grace", 10*time.Second, "exit when the connection stays lost this long")
	maxFrame := fs.Int("max-frame", DefaultMaxFrame, "largest task or result in bytes")
	level := fs.String("log", "warn", "log level: debug, info, warn, error, none")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dial == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "daemon: usage: daemon --dial URL [flags]")
		fs.PrintDefaults()
		return 2
	}
	if *token == "" {
		*token = os.Getenv(EnvToken)
	}
	log, err := daemonLogger(*level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "daemon: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	all := append([]DaemonOption{WithToken(*token), WithRunnerLogger(log), Concurrency(*maxc), MaxTasks(*tasks),
		IdleExit(*idle), ReconnectGrace(*grace), MaxFrame(*maxFrame)}, opts...)
	if *id != "" {
		all = append(all, DaemonID(*id))
	}
	switch {
	case *caFile != "":
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "daemon: %v\n", err)
			return 2
		}
		all = append(all, TrustCert(pem))
	case os.Getenv(EnvTLSCA) != "":
		pem, err := base64.StdEncoding.DecodeString(os.Getenv(EnvTLSCA))
		if err != nil {
			fmt.Fprintf(stderr, "daemon: $%s: %v\n", EnvTLSCA, err)
			return 2
		}
		all = append(all, TrustCert(pem))
	}
	err = RunDaemon(ctx, reg, *dial, all...)
	switch {
	case err == nil, ctx.Err() != nil && errors.Is(err, nanoact.ErrCanceled):
		return 0
	default:
		log.Error("daemon stopped", zap.Error(err))
		return 1
	}
}

func daemonLogger(level string, w io.Writer) (*zap.Logger, error) {
	if level == "none" {
		return zap.NewNop(), nil
	}
	lv, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), lv)
	return zap.New(core), nil
}
