package runner

import (
	"bytes"
	"testing"
	"time"
)

// Every task option is applied through its own apply method, and applying
// them allocates nothing (the config stays on the caller's stack).
func TestTaskOptionsApply(t *testing.T) {
	var w bytes.Buffer
	opts := []TaskOption{nil, TaskTimeout(time.Second), Requeue(-1), ProgressTo(&w)}
	c := taskOptions(opts)
	if c.timeout != time.Second || c.requeue != -1 || !c.progress.on || c.progress.w != &w {
		t.Fatalf("options not applied: %+v", c)
	}
	if c := taskOptions([]TaskOption{Progress(), ProgressTo(nil)}); c.progress.on {
		t.Fatalf("the last progress option should win: %+v", c)
	}
	if n := testing.AllocsPerRun(100, func() { _ = taskOptions(opts) }); n != 0 {
		t.Fatalf("applying task options costs %v allocations, want 0", n)
	}
}
