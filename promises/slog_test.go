package promises_test

import (
	"log/slog"
	"testing"

	"github.com/nanoact/nanoact/internal/testkit/slogrec"
	"github.com/nanoact/nanoact/promises"
)

// WithSlog sends the loop's log lines (a panicking continuation) to a
// slog handler.
func TestWithSlog(t *testing.T) {
	rec, sl := slogrec.New(slog.LevelInfo)
	l := newLoop(t, promises.WithSlog(sl))
	_ = awaitErr(t, promises.Resolved(l, 1).Then(func(int) (int, error) { panic("slog boom") }))
	lines := rec.Lines("continuation panicked")
	if len(lines) != 1 || lines[0].Level != slog.LevelError || lines[0].Attrs["panic"].String() != "slog boom" {
		t.Fatalf("lines %+v", rec.Lines(""))
	}
}
