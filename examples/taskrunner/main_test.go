package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

// TestMain doubles as the daemon: the launcher re-executes this test
// binary as "taskrunner.test daemon --dial URL".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "daemon" {
		reg, _ := tasks()
		daemoncmd.Main(reg)
	}
	goleak.VerifyTestMain(m)
}

// The example runs to completion with fewer tasks, kills a daemon midway,
// checks every result, and leaves nothing behind.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	cfg := config{tasks: 200, daemons: 4, pause: time.Millisecond, dashboard: "127.0.0.1:0",
		launch: []runner.LaunchOption{runner.WithEnv("GORACE=atexit_sleep_ms=0")}}
	if err := run(&out, cfg); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"dashboard: http://127.0.0.1:", "/metrics\n", "4 daemons joined", "killed daemon launch-1", "completed 200", "lost 1", "tasks/s, every result checked"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Log("\n" + out.String())
}
