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
// as a shell command line, an SSH command, a Slurm, SGE, PBS or LSF batch
// script or a Kubernetes Job manifest; they only generate text (nothing is run, no
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

// BatchOptions shapes a batch script for a cluster scheduler (Slurm, SGE,
// PBS, LSF). Each "" or 0 field is left out of the script (the site's
// default applies). Values are written as the scheduler reads them: Time
// is HH:MM:SS for Slurm, SGE and PBS but [HH:]MM for LSF's -W.
type BatchOptions struct {
	JobName     string   // default "nanoact-daemons"
	Daemons     int      // daemons the script starts (default 1)
	CPUsPerTask int      // CPUs for each daemon
	Time        string   // run time limit, e.g. "01:00:00"
	Memory      string   // memory for each daemon, e.g. "2G" (Slurm's --mem)
	Partition   string   // partition (Slurm) or queue (SGE, PBS, LSF)
	Output      string   // the job's output file (default: the scheduler's)
	Extra       []string // more lines' arguments, e.g. "--account=lab" for #SBATCH
}

// SlurmOptions is BatchOptions, the name Slurm's renderer had first.
type SlurmOptions = BatchOptions

// batchScript writes a batch script: "#!/bin/sh", then a directive line
// (prefix and text) for each of dirs and o.Extra, the exports of l.Env
// and run, then l's command line.
func (l Launch) batchScript(prefix string, dirs []string, o BatchOptions, run string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, d := range append(dirs, o.Extra...) {
		fmt.Fprintf(&b, "%s %s\n", prefix, d)
	}
	for _, kv := range l.Env {
		fmt.Fprintf(&b, "export %s\n", envQuote(kv))
	}
	fmt.Fprintf(&b, "%s%s\n", run, l.argv())
	return b.String()
}

// appendSet appends flag+value to dirs for each flag, value pair of
// pairs whose value is set (not "").
func appendSet(dirs []string, pairs ...string) []string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			dirs = append(dirs, pairs[i]+pairs[i+1])
		}
	}
	return dirs
}

// batchDefaults fills o's defaults.
func batchDefaults(o BatchOptions) BatchOptions {
	if o.JobName == "" {
		o.JobName = "nanoact-daemons"
	}
	if o.Daemons < 1 {
		o.Daemons = 1
	}
	return o
}

// Slurm returns a batch script for sbatch that starts o.Daemons daemons
// as the tasks of one srun step (--ntasks), each with o.CPUsPerTask CPUs
// and o.Memory (--mem, per node). srun runs with --export=ALL, so the
// script's exports (the token) reach the daemons even when a site or
// Extra submits with --export=NONE. Submit it with sbatch script (it reads
// a script on its standard input too); Dispatcher.LaunchSlurm submits and
// watches jobs itself.
func (l Launch) Slurm(o BatchOptions) string {
	o = batchDefaults(o)
	dirs := []string{"--job-name=" + o.JobName, fmt.Sprintf("--ntasks=%d", o.Daemons)}
	if o.CPUsPerTask > 0 {
		dirs = append(dirs, fmt.Sprintf("--cpus-per-task=%d", o.CPUsPerTask))
	}
	dirs = appendSet(dirs, "--time=", o.Time, "--mem=", o.Memory, "--partition=", o.Partition, "--output=", o.Output)
	return l.batchScript("#SBATCH", dirs, o, "srun --export=ALL ")
}

// SGE returns a job script for Sun/Son of/Univa Grid Engine's qsub
// (mirai's cluster_config "sge"): an array job of o.Daemons tasks (-t),
// one daemon each. CPUs ask for the "smp" parallel environment (-pe smp
// N), Memory for h_vmem, Time for h_rt; sites name these differently, so
// check them (Extra adds lines). Untested here: no Grid Engine runs in
// this project's tests; only the text is checked.
func (l Launch) SGE(o BatchOptions) string {
	o = batchDefaults(o)
	dirs := []string{"-N " + o.JobName, "-cwd"}
	if o.Daemons > 1 {
		dirs = append(dirs, fmt.Sprintf("-t 1-%d", o.Daemons))
	}
	if o.CPUsPerTask > 0 {
		dirs = append(dirs, fmt.Sprintf("-pe smp %d", o.CPUsPerTask))
	}
	dirs = appendSet(dirs, "-l h_rt=", o.Time, "-l h_vmem=", o.Memory, "-q ", o.Partition)
	if o.Output != "" {
		dirs = append(dirs, "-j y", "-o "+o.Output)
	}
	return l.batchScript("#$", dirs, o, "")
}

// PBS returns a job script for PBS Pro or OpenPBS's qsub (mirai's
// cluster_config "pbs"): an array job of o.Daemons subjobs (-J; Torque
// spells it -t: use Extra), one daemon each, with
// -l select=1:ncpus=N:mem=M and -l walltime. Untested here: no PBS runs
// in this project's tests; only the text is checked.
func (l Launch) PBS(o BatchOptions) string {
	o = batchDefaults(o)
	dirs := []string{"-N " + o.JobName}
	if o.Daemons > 1 {
		dirs = append(dirs, fmt.Sprintf("-J 1-%d", o.Daemons))
	}
	if o.CPUsPerTask > 0 || o.Memory != "" {
		sel := "-l select=1"
		if o.CPUsPerTask > 0 {
			sel += fmt.Sprintf(":ncpus=%d", o.CPUsPerTask)
		}
		if o.Memory != "" {
			sel += ":mem=" + o.Memory
		}
		dirs = append(dirs, sel)
	}
	dirs = appendSet(dirs, "-l walltime=", o.Time, "-q ", o.Partition)
	if o.Output != "" {
		dirs = append(dirs, "-j oe", "-o "+o.Output)
	}
	return l.batchScript("#PBS", dirs, o, "")
}

// LSF returns a job script for IBM Spectrum LSF's bsub, which reads it on
// its standard input (bsub < script; mirai's cluster_config "lsf"): a job
// array name[1-o.Daemons], one daemon each, with -n CPUs, -M memory
// (in the site's LSF_UNIT_FOR_LIMITS), -W [HH:]MM and -q queue.
// Untested here: no LSF runs in this project's tests; only the text is
// checked.
func (l Launch) LSF(o BatchOptions) string {
	o = batchDefaults(o)
	name := o.JobName
	if o.Daemons > 1 {
		name = fmt.Sprintf("%s[1-%d]", name, o.Daemons)
	}
	dirs := []string{"-J " + shellQuote(name)}
	if o.CPUsPerTask > 0 {
		dirs = append(dirs, fmt.Sprintf("-n %d", o.CPUsPerTask))
	}
	dirs = appendSet(dirs, "-M ", o.Memory, "-W ", o.Time, "-q ", o.Partition, "-o ", o.Output)
	return l.batchScript("#BSUB", dirs, o, "")
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
// daemon pods, which exit when the dispatcher says bye. Apply it with
//
//	kubectl create secret generic NAME --from-literal=token=TOKEN  # with TokenSecret
//	kubectl apply -f daemons.yaml
//
// and remove it with kubectl delete job NAME. The pods must reach the
// dispatcher's advertised address (WithAdvertise): a host outside the
// cluster, or a Service in front of a dispatcher that runs in it.
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
