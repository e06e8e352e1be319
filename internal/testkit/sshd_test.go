package testkit

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// StartSSHD's server accepts the generated key, refuses the other one,
// and leaves no process behind: not sshd, not a session's command.
func TestStartSSHD(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd")
	}
	var dir string
	t.Run("server", func(t *testing.T) {
		s := StartSSHD(t)
		dir = s.Dir
		out, err := exec.Command("ssh", "-F", s.Config, s.Host, "echo", "hello").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "hello" {
			t.Fatalf("%v: %s\n%s", err, out, s.Log())
		}
		out, err = exec.Command("ssh", "-F", s.BadKey, s.Host, "true").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Permission denied") {
			t.Fatalf("bad key: %v: %s", err, out)
		}
		// A session left running, as a daemon's would be.
		c := exec.Command("ssh", "-F", s.Config, s.Host, "sleep 600.0123; echo "+s.Dir)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		// Wait (bounded) for the session's command to run on the server.
		for i := 0; !running("sleep\x00600.0123\x00"); i++ {
			if i > 2000 {
				t.Fatal("the session's command never ran")
			}
			select {
			case <-s.out.Grew():
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	// The cleanups have run: nothing names the server's directory once
	// the killed processes have exited.
	if lingers(func() bool { return running(dir) || running("600.0123") }) {
		out, _ := exec.Command("sh", "-c", "ps -eo pid,ppid,sid,args | grep -e 600.0123 -e "+dir).CombinedOutput()
		t.Fatalf("processes left:\n%s", out)
	}
}

// lingers reports whether left stays true for 5 s: a killed process takes
// a moment to exit, and no event tells of another process's exit, so this
// polls (bounded).
func lingers(left func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); left(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return true
		}
	}
	return false
}

// running reports whether a process's command line holds s.
func running(s string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}
