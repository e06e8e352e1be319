package testkit

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// StartSlurm's cluster runs a batch job; its services listen on loopback
// only; and once the test ends nothing of it is left running: not its
// services, not the job's processes.
func TestStartSlurm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Slurm")
	}
	var dir string
	t.Run("cluster", func(t *testing.T) {
		s := StartSlurm(t)
		dir = s.Dir
		// Each listening TCP socket on the services' ports is bound to
		// 127.0.0.1 (/proc/net/tcp: local address, then state 0A).
		for _, port := range []string{s.CtldPort, s.SlurmdPort} {
			var n int
			fmt.Sscan(port, &n)
			want := fmt.Sprintf(":%04X", n)
			found := false
			for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
				b, _ := os.ReadFile(f)
				for _, line := range strings.Split(string(b), "\n")[1:] {
					fs := strings.Fields(line)
					if len(fs) < 4 || fs[3] != "0A" || !strings.HasSuffix(fs[1], want) {
						continue
					}
					found = true
					if ip, _ := hex.DecodeString(strings.TrimSuffix(fs[1], want)); len(ip) != 4 || ip[3] != 127 {
						t.Errorf("port %s listens on %s", port, fs[1])
					}
				}
			}
			if !found {
				t.Errorf("nothing listens on port %s", port)
			}
		}
		sb := s.Command("sbatch", "--parsable", "--output=/dev/null")
		sb.Stdin = strings.NewReader("#!/bin/sh\nsrun sleep 600.0456\n")
		out, err := sb.CombinedOutput()
		if err != nil {
			t.Fatalf("sbatch: %v: %s\n%s", err, out, s.Log())
		}
		job := strings.TrimSpace(string(out))
		// Wait (bounded) for the job's step to run.
		for i := 0; !running("sleep\x00600.0456\x00"); i++ {
			if i > 200 {
				q, _ := s.Command("squeue", "-h", "-o", "%i %T %r").CombinedOutput()
				t.Fatalf("job %s never ran: %s\n%s", job, q, s.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
		q, err := s.Command("squeue", "-h", "-j", job, "-o", "%T %P %N").CombinedOutput()
		if err != nil || strings.TrimSpace(string(q)) != "RUNNING "+s.Partition+" "+s.Node {
			t.Fatalf("squeue: %v %s", err, q)
		}
	})
	// The cleanups have run.
	if lingers(func() bool { return running(dir) || running("600.0456") || len(marked(slurmMark+"="+dir)) > 0 }) {
		out, _ := exec.Command("sh", "-c", "ps -eo pid,ppid,sid,stat,args | grep -e 600.0456 -e "+dir).CombinedOutput()
		t.Fatalf("processes left:\n%s", out)
	}
}
