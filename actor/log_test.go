package actor_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
)

func TestLoggerBridge(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := newSystem(t, actor.WithLogger(zap.New(core).Named("app")))
	ctx := testCtx(t)

	// protoactor's own line, through slog and zapslog.
	started := logs.FilterMessage("actor system started").All()
	if len(started) != 1 || started[0].LoggerName != "app.actor.protoactor" || started[0].Level != zapcore.InfoLevel {
		t.Fatalf("protoactor start line = %+v", started)
	}
	if id, ok := started[0].ContextMap()["id"].(string); !ok || id == "" {
		t.Errorf("start line has no system id: %v", started[0].ContextMap())
	}

	w := spawn(t, s, "w", &worker{})
	if _, err := w.Request(ctx, "boom"); !errors.Is(err, nanoact.ErrInternal) {
		t.Fatal(err)
	}
	if err := w.Call(ctx, func() {}); err != nil { // after the restart
		t.Fatal(err)
	}

	panics := logs.FilterMessage("actor panicked").All()
	if len(panics) != 1 {
		t.Fatalf("got %d panic lines, want 1", len(panics))
	}
	p := panics[0]
	fields := p.ContextMap()
	if p.Level != zapcore.ErrorLevel || p.LoggerName != "app.actor" || fields["panic"] != "boom" || fields["actor"] != "w" {
		t.Errorf("panic line = %v %q %v", p.Level, p.LoggerName, fields)
	}
	if st, _ := fields["stack"].(string); !strings.Contains(st, "(*worker).Receive") {
		t.Errorf("panic stack does not show the Receiver:\n%s", st)
	}
	if logs.FilterMessage("[ACTOR] Recovering").Len() != 1 {
		t.Errorf("protoactor's recovery line missing")
	}
	if d := logs.FilterMessage("supervisor directive").All(); len(d) != 1 || d[0].ContextMap()["directive"] != "restart" {
		t.Errorf("supervisor line = %+v", d)
	}

	// A dead letter is a Debug line, not a stderr print.
	if err := w.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	w.Send("late")
	if logs.FilterMessage("dead letter").Len() == 0 {
		t.Errorf("no dead-letter line")
	}
}

// Nothing of the runtime reaches stdout or stderr, whatever happens: start,
// panics, restarts, dead letters, Close.
func TestNothingOnStdio(t *testing.T) {
	rOut, wOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = wOut, wErr
	func() {
		defer func() { os.Stdout, os.Stderr = oldOut, oldErr }()
		s := actor.NewSystem()
		ctx := testCtx(t)
		w := spawn(t, s, "", &worker{})
		for range 5 {
			w.Request(ctx, "boom") //nolint:errcheck // panics on purpose
		}
		if err := w.Stop(ctx); err != nil {
			t.Error(err)
		}
		for range 10 {
			w.Send("dead letter")
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	wOut.Close()
	wErr.Close()
	var out, errOut bytes.Buffer
	io.Copy(&out, rOut)    //nolint:errcheck // pipe
	io.Copy(&errOut, rErr) //nolint:errcheck // pipe
	rOut.Close()
	rErr.Close()
	if out.Len() != 0 || errOut.Len() != 0 {
		t.Errorf("runtime wrote to stdio:\nstdout: %q\nstderr: %q", out.String(), errOut.String())
	}
}
