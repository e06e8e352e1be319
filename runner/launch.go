package runner

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/nanoact/nanoact"
)

// Environment variables a daemon process reads (see daemoncmd.MainArgs). The token
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
// one when it is a wildcard (see WithAdvertise). exe is the path of the
// daemon's binary on that machine: a program that calls daemoncmd.Main with the
// same registry, or nanoact itself for its built-in tasks.
//
// Errors: ErrState if the dispatcher listens only on inproc:// (give it a
// tcp://, tls+tcp:// or ws:// URL, or WithListen).
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
	return Launch{}, nanoact.Errorf(nanoact.CodeState, "runner: launch", "no listener for remote daemons (tcp://, tls+tcp://, ws://, wss://)")
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
// "-p", "2222") before the host. It only renders text, with the token in the
// remote command (visible to the remote host's other users while it
// runs); Dispatcher.LaunchSSH runs ssh itself and sends the token on the
// session's stdin instead.
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
