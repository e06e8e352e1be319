//go:build unix

package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SSHD is a real OpenSSH server (Debian's openssh-server) that StartSSHD
// runs on a loopback port for one test, with its own host key, user key
// and state directory.
type SSHD struct {
	// Host is the host to give ssh: user@127.0.0.1.
	Host string
	// Port is the server's TCP port.
	Port string
	// Config is an ssh_config file for the client (pass it with -F): the
	// port, the user key, a known_hosts file of its own, BatchMode.
	Config string
	// Dir is the server's state directory.
	Dir string
	// BadKey is an ssh_config like Config but with a key the server does
	// not accept.
	BadKey string
	cmd    *exec.Cmd
	out    *Buffer
	exited chan struct{}
}

// SSHArgs returns the client arguments that reach this server: -F Config.
func (s *SSHD) SSHArgs() []string { return []string{"-F", s.Config} }

// Log returns what the server has logged so far.
func (s *SSHD) Log() string { return s.out.String() }

// StartSSHD starts /usr/sbin/sshd -D on 127.0.0.1 and a free port, as
// this user (it must be root for sshd to run sessions), with generated
// keys in a temporary directory, and stops it (its whole process group)
// when the test ends. It skips the test when sshd, ssh or ssh-keygen is
// missing, and fails it instead under CI (CI=true). It blocks until the
// server listens.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	missing := ""
	if _, err := os.Stat(sshd); err != nil {
		missing = sshd
	}
	for _, b := range []string{"ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = b
		}
	}
	if missing == "" && os.Geteuid() != 0 {
		missing = "root (sshd runs sessions only as root)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing under CI", missing)
		}
		t.Skipf("%s missing: skipping the SSH test (bash .ci/run installs openssh-server)", missing)
	}
	// sshd's privilege separation needs this directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keygen := func(name string) string {
		p := filepath.Join(dir, name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
		return p
	}
	hostKey, userKey, badKey := keygen("host_key"), keygen("user_key"), keygen("bad_key")
	pub, err := os.ReadFile(userKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &SSHD{Dir: dir, Host: u.Username + "@127.0.0.1"}
	var lastErr error
	for range 3 { // the free port may be taken before sshd binds it
		s.Port = FreePort(t)
		conf := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(conf, fmt.Appendf(nil, "Port %s\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\n"+
			"PidFile %s\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"+
			"PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\nSetEnv %s=%s\n",
			s.Port, hostKey, auth, filepath.Join(dir, "sshd.pid"), sshdMark, dir), 0o600); err != nil {
			t.Fatal(err)
		}
		if lastErr = s.start(sshd, conf); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatal(lastErr)
	}
	t.Cleanup(s.stop)
	client := func(name, key string) string {
		p := filepath.Join(dir, name)
		c := fmt.Sprintf("Host *\n  Port %s\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n"+
			"  StrictHostKeyChecking accept-new\n  BatchMode yes\n  LogLevel ERROR\n  ConnectTimeout 10\n",
			s.Port, key, filepath.Join(dir, "known_hosts"))
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s.Config, s.BadKey = client("ssh_config", userKey), client("ssh_config_bad", badKey)
	return s
}

// start runs sshd and waits for its "Server listening" line.
func (s *SSHD) start(sshd, conf string) error {
	cmd := exec.Command(sshd, "-D", "-e", "-f", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.out = NewBuffer()
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	exited := make(chan struct{})
	s.exited = exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	limit := time.NewTimer(20 * time.Second)
	defer limit.Stop()
	for !strings.Contains(s.out.String(), "Server listening") {
		select {
		case <-s.out.Grew():
		case <-exited:
			if strings.Contains(s.out.String(), "Server listening") {
				continue
			}
			s.stop()
			return fmt.Errorf("sshd exited:\n%s", s.out.String())
		case <-limit.C:
			s.stop()
			return fmt.Errorf("sshd did not start in 20s:\n%s", s.out.String())
		}
	}
	return nil
}

// sshdMark names the variable sshd sets in its sessions' environment
// (SetEnv): the server's directory, by which stop finds the sessions'
// processes even after their parents have gone.
const sshdMark = "NANOACT_TEST_SSHD"

// stop kills sshd, its process group and every process it started (the
// per-connection servers and the sessions' commands run in sessions of
// their own, and may have been orphaned), and waits for sshd.
func (s *SSHD) stop() {
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	desc := append(descendants(pid), marked(sshdMark+"="+s.Dir)...)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, p := range desc {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	<-s.exited
	s.cmd = nil
}

// marked returns the ids of the processes whose environment holds kv.
func marked(kv string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, v := range strings.Split(string(b), "\x00") {
			if v == kv {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// descendants returns the ids of the processes below pid, from /proc.
func descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		st := string(b)
		if i := strings.LastIndexByte(st, ')'); i >= 0 {
			f := strings.Fields(st[i+1:])
			if len(f) > 1 {
				if pp, err := strconv.Atoi(f[1]); err == nil {
					parent[p] = pp
				}
			}
		}
	}
	var out []int
	below := map[int]bool{pid: true}
	for changed := true; changed; {
		changed = false
		for p, pp := range parent {
			if below[pp] && !below[p] {
				below[p] = true
				out = append(out, p)
				changed = true
			}
		}
	}
	return out
}
