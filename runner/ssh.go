package runner

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
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
	// tunnel is the first remote port (daemon ssh-N forwards tunnel+N-1)
	// and target the dispatcher's host:port as this machine reaches it;
	// tunnel is 0 without WithTunnel. dialAt indexes the URL in remote.
	tunnel int
	target string
	scheme string
	dialAt int
}

// WithSSHArgs adds arguments for ssh before the host, such as "-p",
// "2222", "-i", key, "-J", jump, or "-F", config (LaunchSSH only). ssh
// also reads the user's ~/.ssh/config and agent as usual.
func WithSSHArgs(args ...string) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.sshArgs = append(c.sshArgs, args...) })
}

// WithJoinTimeout bounds how long LaunchSSH (default 60 s) or
// LaunchSlurm (default 10 minutes, queueing included) waits for its
// daemons to join.
func WithJoinTimeout(d time.Duration) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.join = d })
}

// WithTunnel has LaunchSSH's daemons reach the dispatcher through their
// ssh session (mirai's tunnel = TRUE), for hosts that cannot reach it:
// daemon ssh-N runs with ssh -R remotePort+N-1:dispatcher's address and
// dials tcp://127.0.0.1:remotePort+N-1 on its host, so those ports must be
// free there (remotePort 0: the dispatcher's own port). The dispatcher
// needs a tcp:// listener (ssh encrypts the tunnel; LaunchSSH fails with
// ErrNotSupported otherwise); a session whose forward fails ends at once
// (ExitOnForwardFailure).
func WithTunnel(remotePort int) LaunchOption {
	return launchOptionFunc(func(c *launchConfig) { c.tunnel = remotePort })
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
// daemon whose session ends with an error after it joined (reported at
// Warn and through WithOnExit either way; a session that ends before its
// daemon joined is not retried); WithStopGrace is as for LaunchLocal.
//
// It blocks until the n daemons have joined. Errors, naming host: a
// session that ends before its daemon joined (unreachable host, a refused
// key, a missing exe: the error holds ssh's last words), ErrTimedOut
// after WithJoinTimeout, ctx's end, ErrState when the dispatcher has no
// listener remote daemons can reach, ErrClosed after Close. On error
// every session it started is stopped and nil is returned.
func (d *Dispatcher) LaunchSSH(ctx context.Context, host string, n int, opts ...LaunchOption) (*Launcher, error) {
	op := "runner: launch over ssh to " + host
	cfg := launchConfig{grace: 5 * time.Second, exe: "nanoact", join: 60 * time.Second, tunnel: -1}
	for _, o := range opts {
		if o != nil {
			o.applyLaunch(&cfg)
		}
	}
	if host == "" || strings.HasPrefix(host, "-") {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "bad host %q", host)
	}
	var target, scheme string
	var tport int
	if cfg.tunnel >= 0 {
		u := cfg.url
		if u == "" {
			for _, lu := range d.URLs() {
				if strings.HasPrefix(lu, "tcp://") {
					u = lu
					break
				}
			}
		}
		var err error
		if scheme, target, tport, err = tunnelTarget(u); err != nil {
			return nil, nanoact.Errorf(nanoact.CodeNotSupported, op, "tunnel: %v", err)
		}
		if cfg.tunnel == 0 {
			cfg.tunnel = tport
		}
		cfg.url = u
	}
	spec, err := d.remoteSpec(cfg)
	if err != nil {
		return nil, err
	}
	var header strings.Builder
	for _, kv := range spec.Env {
		header.WriteString(kv + "\n")
	}
	header.WriteString("\n")
	remote := append(append([]string{cfg.exe}, cfg.leading...), spec.Args...)
	sshArgs := append(append([]string{}, cfg.sshArgs...), "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20")
	t := &sshTarget{host: host, args: sshArgs, remote: append(remote, "--stdin"), env: cfg.env,
		header: []byte(header.String()),
		target: target, scheme: scheme, dialAt: 1 + len(cfg.leading) + 2}
	if cfg.tunnel > 0 {
		t.tunnel = cfg.tunnel
		t.args = append(t.args, "-o", "ExitOnForwardFailure=yes")
	}
	l := &Launcher{d: d, cfg: cfg, spec: spec, ssh: t, log: d.log.With(zap.String("host", host), zap.String("exe", cfg.exe))}
	return d.launchRemote(ctx, op, l, n, nil)
}

// tunnelTarget splits a tcp:// listener URL into its scheme and the
// host:port ssh forwards to (a wildcard host becomes 127.0.0.1), and the
// port.
func tunnelTarget(u string) (scheme, target string, port int, err error) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || scheme != "tcp" {
		return "", "", 0, fmt.Errorf("needs a tcp:// listener, not %q", u)
	}
	h, p, err := net.SplitHostPort(rest)
	if err != nil {
		return "", "", 0, err
	}
	if port, err = strconv.Atoi(p); err != nil || port <= 0 {
		return "", "", 0, fmt.Errorf("port of %q", u)
	}
	switch h {
	case "", "0.0.0.0", "::", "*":
		h = "127.0.0.1"
	}
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return scheme, h + ":" + p, port, nil
}

// startSSH starts the ssh session of daemon id; l.mu is held.
func (l *Launcher) startSSH(id string) (*Proc, error) {
	t := l.ssh
	words := append(append([]string{}, t.remote...), "--id", id)
	sshArgs := t.args
	if t.tunnel > 0 {
		rp := t.tunnel + l.seq - 1
		sshArgs = append(append([]string{}, t.args...), "-R", fmt.Sprintf("127.0.0.1:%d:%s", rp, t.target))
		words[t.dialAt] = fmt.Sprintf("%s://127.0.0.1:%d", t.scheme, rp)
	}
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
	args := append(append(append([]string{}, sshArgs...), "--", t.host), strings.Join(parts, " "))
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
	joined, unregister := l.expect(id)
	if err := cmd.Start(); err != nil {
		unregister()
		return nil, nanoact.Errorf(nanoact.CodeNotFound, "runner: launch over ssh to "+t.host, "ssh: %v", err)
	}
	// The header fits in the pipe's buffer; stdin stays open for the
	// session's life (its end is the daemon's signal to leave) and is
	// closed by Wait.
	if _, err := stdin.Write(t.header); err != nil {
		l.log.Warn("ssh session's stdin", zap.String("daemon", id), zap.Error(err))
	}
	p := &Proc{ID: id, Host: t.host, cmd: cmd, done: make(chan struct{})}
	l.watch(p, func() {
		l.unexpect(p, joined, unregister)
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
