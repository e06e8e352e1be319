package runner

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// sshTarget is what a LaunchSSH launcher needs to start one more session.
type sshTarget struct {
	host   string
	args   []string // ssh's arguments before the host
	remote []string // the remote command's words, before --id
	env    []string // NAME=value for the remote command's environment
	header []byte   // the --stdin header: the token, the URL, the certificate
	// joins holds, per daemon id not yet joined nor exited, the channel
	// the dispatcher closes on its hello.
	joins map[string]chan struct{}
}

// WithSSHArgs adds arguments for ssh before the host, such as "-p",
// "2222", "-i", key, "-J", jump, or "-F", config (LaunchSSH only). ssh
// also reads the user's ~/.ssh/config and agent as usual.
func WithSSHArgs(args ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.sshArgs = append(c.sshArgs, args...) })
}

// WithJoinTimeout bounds how long LaunchSSH waits for its daemons to join
// (default 60 s).
func WithJoinTimeout(d time.Duration) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.join = d })
}

// LaunchSSH starts n daemons on host (user@host as ssh takes it) by
// running the system ssh client once per daemon (mirai's ssh_config), so
// the user's ssh configuration, agent, keys and jump hosts apply. Each
// session runs, on host,
//
//	[env NAME=value...] exe [leading...] daemon --dial URL [daemon args] --stdin --id ssh-N
//
// where exe is WithExecutable's path on host (default "nanoact", from
// host's PATH) and URL is the dispatcher's remote URL (see Launch and
// WithAdvertise; WithURL overrides it). The session token, and for TLS
// the dispatcher's certificate, travel on the session's standard input
// (the daemon's --stdin), never on a command line. The daemon leaves when
// its session ends, and the session ends when the daemon exits.
//
// ssh runs with BatchMode=yes (it never prompts) and ConnectTimeout=20
// unless WithSSHArgs sets them. WithOutput receives ssh's and the
// daemon's output; WithEnv sets remote variables; WithRestart replaces a
// daemon whose session ends with an error (reported at Warn and through
// WithOnExit either way); WithStopGrace is as for LaunchLocal.
//
// It blocks until the n daemons have joined. Errors, naming host: a
// session that ends before its daemon joined (unreachable host, a refused
// key, a missing exe: the error holds ssh's last words), ErrTimedOut
// after WithJoinTimeout, ctx's end, ErrState when the dispatcher has no
// listener remote daemons can reach, ErrClosed after Close. On error
// every session it started is stopped and nil is returned.
func (d *Dispatcher) LaunchSSH(ctx context.Context, host string, n int, opts ...LaunchOption) (*Launcher, error) {
	op := "runner: launch over ssh to " + host
	cfg := launchConfig{grace: 5 * time.Second, exe: "nanoact", join: 60 * time.Second}
	for _, o := range opts {
		if o != nil {
			o.applyLaunch(&cfg)
		}
	}
	if host == "" || strings.HasPrefix(host, "-") {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "bad host %q", host)
	}
	var spec Launch
	if cfg.url != "" {
		spec = d.launchFor(cfg.exe, cfg.url, cfg.args)
	} else {
		s, err := d.Launch(cfg.exe, cfg.args...)
		if err != nil {
			return nil, err
		}
		spec = s
	}
	var header strings.Builder
	for _, kv := range spec.Env {
		header.WriteString(kv + "\n")
	}
	header.WriteString("\n")
	remote := append(append([]string{cfg.exe}, cfg.leading...), spec.Args...)
	sshArgs := append(append([]string{}, cfg.sshArgs...), "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20")
	t := &sshTarget{host: host, args: sshArgs, remote: append(remote, "--stdin"), env: cfg.env,
		header: []byte(header.String()), joins: make(map[string]chan struct{})}
	l := &Launcher{d: d, cfg: cfg, spec: spec, ssh: t, log: d.log.With(zap.String("host", host), zap.String("exe", cfg.exe))}
	if err := d.addLauncher(l, op); err != nil {
		return nil, err
	}
	fail := func(err error) (*Launcher, error) {
		_ = l.Close()
		return nil, err
	}
	procs, err := l.Start(n)
	if err != nil {
		return fail(err)
	}
	timer := time.NewTimer(cfg.join)
	defer timer.Stop()
	for _, p := range procs {
		l.mu.Lock()
		joined := t.joins[p.ID]
		l.mu.Unlock()
		if joined == nil { // joined, or exited, already
			select {
			case <-p.done:
				if !d.hasJoined(p.ID) {
					return fail(nanoact.Errorf(nanoact.CodeUnreachable, op, "daemon %s ended before joining: %v", p.ID, p.err))
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
				return fail(nanoact.Errorf(nanoact.CodeUnreachable, op, "daemon %s ended before joining: %v", p.ID, p.err))
			}
		case <-timer.C:
			return fail(nanoact.Errorf(nanoact.CodeTimedOut, op, "daemon %s did not join within %v", p.ID, cfg.join))
		case <-ctx.Done():
			return fail(nanoact.Errorf(nanoact.CodeCanceled, op, "%v", ctx.Err()))
		case <-d.life.Done():
			return fail(&nanoact.Error{Code: nanoact.CodeClosed, Op: op})
		}
	}
	return l, nil
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

// startSSH starts the ssh session of daemon id; l.mu is held.
func (l *Launcher) startSSH(id string) (*Proc, error) {
	t := l.ssh
	words := append(append([]string{}, t.remote...), "--id", id)
	parts := make([]string, 0, len(words)+len(t.env)+1)
	if len(t.env) > 0 {
		parts = append(parts, "env")
		for _, kv := range t.env {
			parts = append(parts, envQuote(kv))
		}
	}
	for _, w := range words {
		parts = append(parts, shellQuote(w))
	}
	args := append(append(append([]string{}, t.args...), "--", t.host), strings.Join(parts, " "))
	cmd := exec.Command("ssh", args...)
	tail := &tailWriter{max: 2048}
	var out io.Writer = tail
	if l.cfg.out != nil {
		cmd.Stdout = l.cfg.out
		out = io.MultiWriter(l.cfg.out, tail)
	}
	cmd.Stderr = out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nanoact.Errorf(nanoact.CodeInternal, "runner: launch over ssh to "+t.host, "%v", err)
	}
	// Register before the session starts: the hello may come at once.
	joined := make(chan struct{})
	l.d.lmu.Lock()
	if l.d.awaiting == nil {
		l.d.awaiting = make(map[string]chan struct{})
	}
	l.d.awaiting[id] = joined
	l.d.lmu.Unlock()
	unregister := func() {
		l.d.lmu.Lock()
		if l.d.awaiting[id] == joined {
			delete(l.d.awaiting, id)
		}
		l.d.lmu.Unlock()
	}
	if err := cmd.Start(); err != nil {
		unregister()
		return nil, nanoact.Errorf(nanoact.CodeNotFound, "runner: launch over ssh to "+t.host, "ssh: %v", err)
	}
	t.joins[id] = joined
	// The header fits in the pipe's buffer; stdin stays open for the
	// session's life (its end is the daemon's signal to leave) and is
	// closed by Wait.
	if _, err := stdin.Write(t.header); err != nil {
		l.log.Warn("ssh session's stdin", zap.String("daemon", id), zap.Error(err))
	}
	p := &Proc{ID: id, Host: t.host, cmd: cmd, done: make(chan struct{})}
	l.watch(p, func() {
		unregister()
		l.mu.Lock()
		delete(t.joins, id)
		l.mu.Unlock()
		if p.err != nil {
			if w := strings.TrimSpace(tail.String()); w != "" {
				p.err = fmt.Errorf("ssh %s: %w: %s", t.host, p.err, w)
			} else {
				p.err = fmt.Errorf("ssh %s: %w", t.host, p.err)
			}
		}
	})
	l.log.Info("daemon ssh session started", zap.String("daemon", id), zap.Int("pid", cmd.Process.Pid))
	return p, nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}
