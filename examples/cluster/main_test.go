package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

// TestMain doubles as the daemon: the launchers re-execute this test
// binary as "cluster.test daemon --dial URL".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "daemon" {
		reg, _ := tasks()
		daemoncmd.Main(reg)
	}
	goleak.VerifyTestMain(m)
}

// check runs the example and checks what it prints.
func check(t *testing.T, cfg config) {
	t.Helper()
	var out bytes.Buffer
	cfg.daemons, cfg.tasks = 2, 50
	cfg.launch = append(cfg.launch, runner.WithEnv("GORACE=atexit_sleep_ms=0"))
	if err := run(&out, cfg); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"2 daemons joined (" + cfg.on + ")", "sum of the squares of 1..50 = 42925"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}

// The same Map on local processes, over a real sshd, and on a real Slurm.
func TestLocal(t *testing.T) { check(t, config{on: "local"}) }

func TestSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd")
	}
	sshd := testkit.StartSSHD(t)
	check(t, config{on: "ssh", host: sshd.Host, sshArgs: sshd.SSHArgs(), listen: "tls+tcp://127.0.0.1:0"})
}

func TestSlurm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Slurm")
	}
	s := testkit.StartSlurm(t)
	check(t, config{on: "slurm", partition: s.Partition, listen: "tls+tcp://127.0.0.1:0",
		output: filepath.Join(t.TempDir(), "job-%j.out"),
		launch: []runner.LaunchOption{runner.WithSlurmCommands("", s.Env...), runner.WithPollInterval(100 * time.Millisecond)}})
}

// A launcher name it does not know is an error.
func TestUnknown(t *testing.T) {
	if err := run(&bytes.Buffer{}, config{on: "mars", listen: "tcp://127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "mars") {
		t.Fatal(err)
	}
}
