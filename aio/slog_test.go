package aio_test

import (
	"log/slog"
	"testing"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/testkit/slogrec"
)

// WithSlog sends the aio's log lines (a panicking callback) to a slog
// handler.
func TestWithSlog(t *testing.T) {
	rec, sl := slogrec.New(slog.LevelInfo)
	a, resolve := aio.NewPending[int](nil, aio.WithSlog(sl))
	resolve(1, nil)
	a.OnComplete(func(int, error) { panic("slog boom") }) // resolved: runs at once, here
	lines := rec.Lines("aio: callback panicked")
	if len(lines) != 1 || lines[0].Level != slog.LevelError || lines[0].Attrs["panic"].String() != "slog boom" {
		t.Fatalf("lines %+v", rec.Lines(""))
	}
}
