package sockets_test

import (
	"log/slog"
	"testing"

	"github.com/nanoact/nanoact/internal/testkit/slogrec"
	"github.com/nanoact/nanoact/sockets"
)

// WithSlog sends the socket's log lines to a slog handler, fields and
// logger name included.
func TestWithSlog(t *testing.T) {
	t.Parallel()
	rec, sl := slogrec.New(slog.LevelDebug)
	s := open(t, sockets.Pull, sockets.WithSlog(sl))
	l, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lines := rec.Lines("listening")
	if len(lines) != 1 {
		t.Fatalf("lines %+v", rec.Lines(""))
	}
	a := lines[0].Attrs
	if lines[0].Level != slog.LevelInfo || a["url"].String() != l.URL() || a["logger"].String() != "sockets" ||
		a["socket"].Uint64() != uint64(s.ID()) || a["proto"].String() != "pull" {
		t.Fatalf("line %+v", lines[0])
	}
}
