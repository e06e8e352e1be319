package rpc_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/nanoact/nanoact/internal/testkit/slogrec"
	"github.com/nanoact/nanoact/rpc"
)

// WithSlog sends the server's log lines to a slog handler.
func TestWithSlog(t *testing.T) {
	t.Parallel()
	rec, sl := slogrec.New(slog.LevelInfo)
	srv, err := rpc.NewServer(func(_ context.Context, n int) (int, error) { return n, nil }, rpc.WithSlog(sl))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	lines := rec.Lines("server stopped")
	if len(lines) != 1 || lines[0].Level != slog.LevelInfo || lines[0].Attrs["logger"].String() != "rpc" {
		t.Fatalf("lines %+v", rec.Lines(""))
	}
}
