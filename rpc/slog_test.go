package rpc_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact/cv"
	"github.com/nanoact/nanoact/sockets"

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

// A handler's panic restarts its worker, logged once at Warn or above with
// the request's peer address; the supervisor's own line is Debug.
func TestCrashLoggedOnceWithPeer(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	srv, err := rpc.NewServer(func(_ context.Context, s string) (string, error) {
		if s == "boom" {
			panic("handler exploded")
		}
		return "re: " + s, nil
	}, rpc.WithListen("tcp://127.0.0.1:0"), rpc.WithWorkers(1), rpc.WithLogger(zap.New(core)),
		rpc.WithRestartBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := cv.New()
	srv.Register(c)
	req := newReq(t, srv.URL())
	ctx := ctxT(t)
	_ = req.Send(ctx, "boom")
	if _, err := req.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	_ = req.Send(ctx, "hi")
	if v, err := sockets.RecvAs[string](ctx, req); err != nil || v != "re: hi" {
		t.Fatalf("after crash: %q %v", v, err)
	}
	for c.Wait(ctx) { // until the crash raises c's flag, after its log line
	}
	p, err := req.Pipe(req.PipeIDs()[0])
	if err != nil {
		t.Fatal(err)
	}
	local, _ := p.LocalAddr()
	loud := logs.FilterLevelExact(zapcore.WarnLevel).All()
	loud = append(loud, logs.FilterLevelExact(zapcore.ErrorLevel).All()...)
	if len(loud) != 1 || loud[0].Message != "handler panicked; worker restarting" || loud[0].ContextMap()["remote"] != local {
		t.Fatalf("lines at Warn and above %v; want one with remote %s", loud, local)
	}
	if e := logs.FilterMessage("worker crashed; restarting").All(); len(e) != 1 || e[0].Level != zapcore.DebugLevel {
		t.Fatalf("restart lines %v", e)
	}
}
