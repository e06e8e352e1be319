package runner_test

import (
	"log/slog"
	"testing"

	"github.com/nanoact/nanoact/internal/testkit/slogrec"
	"github.com/nanoact/nanoact/runner"
)

// WithSlog sends the dispatcher's log lines to a slog handler.
func TestWithSlog(t *testing.T) {
	t.Parallel()
	rec, sl := slogrec.New(slog.LevelInfo)
	d, err := runner.NewDispatcher("", runner.WithRegistry(newFixture().reg), runner.WithSlog(sl))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lines := rec.Lines("dispatcher listening")
	if len(lines) != 1 || lines[0].Attrs["url"].String() != d.URL() || lines[0].Attrs["logger"].String() != "runner" {
		t.Fatalf("lines %+v", rec.Lines(""))
	}
}
