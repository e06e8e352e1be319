package actor_test

import (
	"log/slog"
	"testing"

	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/internal/testkit/slogrec"
)

// WithSlog sends the system's log lines, protoactor's own included, to a
// slog handler.
func TestWithSlog(t *testing.T) {
	rec, sl := slogrec.New(slog.LevelDebug)
	newSystem(t, actor.WithSlog(sl))
	lines := rec.Lines("actor system started")
	if len(lines) != 1 || lines[0].Level != slog.LevelInfo || lines[0].Attrs["logger"].String() != "actor.protoactor" {
		t.Fatalf("lines %+v", rec.Lines(""))
	}
}
