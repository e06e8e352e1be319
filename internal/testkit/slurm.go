//go:build unix

package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Slurm is a real single-node Slurm cluster (Debian's slurm-wlm and
// munge) that StartSlurm runs for one test: munged, slurmctld and slurmd
// on loopback ports, with a generated munge key and their own state,
// spool and socket in a temporary directory.
type Slurm struct {
	// Env holds what Slurm's commands (sbatch, squeue, scancel, srun)
	// need to reach this cluster: SLURM_CONF=its slurm.conf. sbatch
	// passes it on to the jobs.
	Env []string
	// Conf is the path of the cluster's slurm.conf.
	Conf string
	// Dir is the cluster's directory.
	Dir string
	// Node is the cluster's one node (this host's short name), and
	// Partition its one partition (the default).
	Node, Partition string
	// CtldPort and SlurmdPort are the loopback ports of slurmctld and
	// slurmd.
	CtldPort, SlurmdPort string
	procs                []*slurmProc
}

type slurmProc struct {
	name   string
	cmd    *exec.Cmd
	out    *Buffer
	exited chan struct{}
}

// slurmMark names the variable set in the environment of the cluster's
// services (and so of its slurmstepd processes), by which stop finds
// them even after they have left their process group.
const slurmMark = "NANOACT_TEST_SLURM"

// StartSlurm starts a one-node Slurm cluster for this host and stops it,
// with every job's processes, when the test ends. The node has this
// machine's CPUs and memory (slurmd -C), each up to 8 jobs at once
// (OverSubscribe), in one partition; slurmctld and slurmd bind to the
// host name's address (CommunicationParameters=NoInAddrAny), so it
// refuses to start unless that is a loopback address. Jobs run as this
// user (root: SlurmUser=root), with proctrack/linuxproc and task/none,
// and are killed 1 s after scancel's SIGTERM (KillWait). It blocks until
// the node is idle (a second or two). It skips the test when a program is
// missing or this is not root, and fails it instead under CI (CI=true).
func StartSlurm(t testing.TB) *Slurm {
	t.Helper()
	need := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: cannot run Slurm under CI", what)
		}
		t.Skipf("%s: skipping the Slurm test (bash .ci/run installs slurm-wlm and munge)", what)
	}
	bins := map[string]string{}
	for _, b := range []string{"munged", "mungekey", "slurmctld", "slurmd", "sinfo", "squeue", "scancel", "sbatch"} {
		p, err := exec.LookPath(b)
		if err != nil {
			if p, err = exec.LookPath("/usr/sbin/" + b); err != nil {
				need(b + " missing")
			}
		}
		bins[b] = p
	}
	if os.Geteuid() != 0 {
		need("not root (SlurmUser=root)")
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		need(fmt.Sprintf("host name %q does not resolve (%v)", host, err))
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip == nil || !ip.IsLoopback() {
			need(fmt.Sprintf("host name %q resolves to %s, not loopback", host, a))
		}
	}
	s := &Slurm{Dir: t.TempDir(), Node: host, Partition: "test"}
	dir := s.Dir
	for _, d := range []string{"munge", "state", "spool"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// munged wants its socket's directories searchable by everyone.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	key := filepath.Join(dir, "munge", "munge.key")
	if out, err := exec.Command(bins["mungekey"], "--create", "--keyfile", key).CombinedOutput(); err != nil {
		t.Fatalf("mungekey: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "munge", "munge.socket")
	s.start(t, "munged", bins["munged"], "--foreground", "--force", "--key-file="+key, "--socket="+sock,
		"--pid-file="+filepath.Join(dir, "munge", "munged.pid"), "--seed-file="+filepath.Join(dir, "munge", "munged.seed"))
	// The node as slurmd sees this machine: its first line, "NodeName=...
	// CPUs=... RealMemory=...".
	hw, err := exec.Command(bins["slurmd"], "-C").Output()
	if err != nil {
		t.Fatalf("slurmd -C: %v", err)
	}
	node, _, _ := strings.Cut(string(hw), "\n")
	if !strings.HasPrefix(node, "NodeName="+host+" ") {
		t.Fatalf("slurmd -C: %q", hw)
	}
	s.Conf = filepath.Join(dir, "slurm.conf")
	s.Env = []string{"SLURM_CONF=" + s.Conf}
	ctldPort, slurmdPort := FreePort(t), FreePort(t)
	for ctldPort == slurmdPort {
		slurmdPort = FreePort(t)
	}
	s.CtldPort, s.SlurmdPort = ctldPort, slurmdPort
	conf := fmt.Sprintf(`ClusterName=nanoacttest
SlurmctldHost=%[1]s(127.0.0.1)
SlurmctldPort=%[2]s
SlurmdPort=%[3]s
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=%[4]s
CredType=cred/munge
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
StateSaveLocation=%[5]s/state
SlurmdSpoolDir=%[5]s/spool
SlurmctldPidFile=%[5]s/slurmctld.pid
SlurmdPidFile=%[5]s/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
ReturnToService=2
KillWait=1
MinJobAge=30
MessageTimeout=5
InactiveLimit=0
%[6]s NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=%[7]s Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
`, host, ctldPort, slurmdPort, sock, dir, node, s.Partition)
	if err := os.WriteFile(s.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start(t, "slurmctld", bins["slurmctld"], "-D", "-i", "-f", s.Conf)
	s.start(t, "slurmd", bins["slurmd"], "-D", "-f", s.Conf)
	// No event says the node has registered: ask sinfo (bounded).
	deadline := time.Now().Add(20 * time.Second)
	for {
		cmd := exec.Command(bins["sinfo"], "-h", "-o", "%T", "-n", host)
		cmd.Env = append(os.Environ(), s.Env...)
		out, err := cmd.CombinedOutput()
		st := strings.TrimSpace(string(out))
		if err == nil && st == "idle" {
			break
		}
		for _, p := range s.procs {
			select {
			case <-p.exited:
				t.Fatalf("%s exited:\n%s", p.name, s.Log())
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node is not idle after 20 s: sinfo: %v %s\n%s", err, out, s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// start runs one of the cluster's services in the foreground, in a
// process group of its own, with its output kept for Log.
func (s *Slurm) start(t testing.TB, name, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), s.Env...), slurmMark+"="+s.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &slurmProc{name: name, cmd: cmd, out: NewBuffer(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s.procs = append(s.procs, p)
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
}

// Log returns what the cluster's services have logged so far.
func (s *Slurm) Log() string {
	var b strings.Builder
	for _, p := range s.procs {
		fmt.Fprintf(&b, "--- %s:\n%s", p.name, p.out.String())
	}
	return b.String()
}

// Command returns an exec.Cmd running one of Slurm's commands (squeue,
// scancel, ...) against this cluster.
func (s *Slurm) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), s.Env...)
	return cmd
}

// stop kills the services and every process of the cluster's jobs (found
// by the variables they carry: slurmstepd has slurmd's, a job's
// processes the SLURM_CONF sbatch passed on), and waits for the services.
func (s *Slurm) stop() {
	// A service or a step may start a process while a round kills: kill
	// until a round finds none (bounded; there is no event to wait on).
	for range 50 {
		var pids []int
		for _, p := range s.procs {
			select {
			case <-p.exited:
			default:
				pids = append(pids, p.cmd.Process.Pid)
			}
			pids = append(pids, descendants(p.cmd.Process.Pid)...)
		}
		pids = append(pids, marked(slurmMark+"="+s.Dir)...)
		if s.Conf != "" {
			pids = append(pids, marked("SLURM_CONF="+s.Conf)...)
		}
		alive := 0
		for _, pid := range pids {
			if pid != os.Getpid() && !zombie(pid) {
				alive++
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if alive == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range s.procs {
		<-p.exited
	}
	s.procs = nil
}

// zombie reports whether process pid has exited (or is gone).
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	return i < 0 || len(st) < i+3 || st[i+2] == 'Z' || st[i+2] == 'X'
}
