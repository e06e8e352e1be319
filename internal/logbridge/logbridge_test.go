package logbridge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/nanoact/nanoact/internal/logbridge"
)

// jsonLogger returns a zap logger writing through slog's JSON handler at
// level, and a function decoding the lines written so far.
func jsonLogger(t *testing.T, level slog.Level, opts ...zap.Option) (*zap.Logger, func() []map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level, AddSource: true})
	l := zap.New(logbridge.NewCore(h), opts...)
	return l, func() []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			out = append(out, m)
		}
		return out
	}
}

func TestLevels(t *testing.T) {
	l, lines := jsonLogger(t, slog.LevelWarn)
	if l.Check(zapcore.InfoLevel, "x") != nil || l.Core().Enabled(zapcore.InfoLevel) || !l.Core().Enabled(zapcore.WarnLevel) {
		t.Fatal("the handler's level is not zap's")
	}
	l.Debug("debug")
	l.Info("info")
	l.Warn("warn")
	l.Error("error")
	l.DPanic("dpanic") // a production logger: no panic
	got := lines()
	want := []struct{ msg, level string }{{"warn", "WARN"}, {"error", "ERROR"}, {"dpanic", "ERROR+2"}}
	if len(got) != len(want) {
		t.Fatalf("lines %v", got)
	}
	for i, w := range want {
		if got[i]["msg"] != w.msg || got[i]["level"] != w.level {
			t.Errorf("line %d: %v; want %s at %s", i, got[i], w.msg, w.level)
		}
	}
	for zl, sl := range map[zapcore.Level]slog.Level{
		zapcore.DebugLevel: slog.LevelDebug, zapcore.InfoLevel: slog.LevelInfo,
		zapcore.WarnLevel: slog.LevelWarn, zapcore.ErrorLevel: slog.LevelError,
		zapcore.PanicLevel: slog.LevelError + 4, zapcore.FatalLevel: slog.LevelError + 8,
	} {
		if logbridge.Level(zl) != sl {
			t.Errorf("Level(%v) = %v, want %v", zl, logbridge.Level(zl), sl)
		}
	}
}

type point struct{ X, Y int }

func (p point) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddInt("x", p.X)
	enc.AddInt("y", p.Y)
	return nil
}

func TestFields(t *testing.T) {
	l, lines := jsonLogger(t, slog.LevelDebug)
	at := time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)
	l.Info("fields",
		zap.String("s", "text"), zap.Int("i", -3), zap.Uint32("u", 7), zap.Bool("b", true),
		zap.Float64("f", 1.5), zap.Float32("f32", 0.25), zap.Duration("d", 1500*time.Millisecond),
		zap.Time("t", at), zap.Error(errors.New("boom")), zap.Error(nil), zap.Skip(),
		zap.Stringer("addr", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}),
		zap.ByteString("bs", []byte("bytes")), zap.Any("any", map[string]int{"k": 1}),
		zap.Object("obj", point{1, 2}), zap.Strings("arr", []string{"a", "b"}),
		zap.Inline(point{3, 4}),
		zap.Namespace("ns"), zap.String("inner", "yes"),
	)
	got := lines()
	if len(got) != 1 {
		t.Fatalf("lines %v", got)
	}
	m := got[0]
	for k, want := range map[string]any{
		"s": "text", "i": -3.0, "u": 7.0, "b": true, "f": 1.5, "f32": 0.25, "d": 1.5e9,
		"t": "2026-12-03T11:00:00Z", "error": "boom", "addr": "127.0.0.1:80", "bs": "bytes",
		"x": 3.0, "y": 4.0,
	} {
		if m[k] != want {
			t.Errorf("%s = %#v, want %#v (line %v)", k, m[k], want, m)
		}
	}
	if _, ok := m["skip"]; ok {
		t.Error("skip written")
	}
	if a, _ := m["any"].(map[string]any); a["k"] != 1.0 {
		t.Errorf("any = %v", m["any"])
	}
	if o, _ := m["obj"].(map[string]any); o["x"] != 1.0 || o["y"] != 2.0 {
		t.Errorf("obj = %v", m["obj"])
	}
	if a, _ := m["arr"].([]any); len(a) != 2 || a[0] != "a" {
		t.Errorf("arr = %v", m["arr"])
	}
	if ns, _ := m["ns"].(map[string]any); ns["inner"] != "yes" {
		t.Errorf("ns = %v", m["ns"])
	}
	if _, ok := m["inner"]; ok {
		t.Error("a namespaced field at the top")
	}
}

// With adds fields to every line, Named a logger attribute; a namespace
// opened by With holds the fields added later; stack and caller come
// through.
func TestWithNamedStackCaller(t *testing.T) {
	l, lines := jsonLogger(t, slog.LevelDebug, zap.AddCaller(), zap.AddStacktrace(zapcore.ErrorLevel))
	s := l.Named("sockets").With(zap.Uint32("socket", 4), zap.String("proto", "req"))
	s.Info("one", zap.String("url", "tcp://x"))
	n := s.With(zap.Namespace("pipe"), zap.Int("id", 9))
	n.Error("two", zap.String("remote", "1.2.3.4:5"))
	got := lines()
	if len(got) != 2 {
		t.Fatalf("lines %v", got)
	}
	one, two := got[0], got[1]
	if one["logger"] != "sockets" || one["socket"] != 4.0 || one["proto"] != "req" || one["url"] != "tcp://x" {
		t.Errorf("one = %v", one)
	}
	if src, _ := one["source"].(map[string]any); !strings.HasSuffix(src["file"].(string), "logbridge_test.go") {
		t.Errorf("source = %v", one["source"])
	}
	if _, ok := one["stacktrace"]; ok {
		t.Error("stack on Info")
	}
	p, _ := two["pipe"].(map[string]any)
	if two["socket"] != 4.0 || p["id"] != 9.0 || p["remote"] != "1.2.3.4:5" || two["logger"] != "sockets" {
		t.Errorf("two = %v", two)
	}
	if st, _ := two["stacktrace"].(string); !strings.Contains(st, "TestWithNamedStackCaller") {
		t.Errorf("stacktrace = %q", st)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestLogger(t *testing.T) {
	if logbridge.Logger(nil) != nil {
		t.Fatal("Logger(nil) is not nil")
	}
	var buf bytes.Buffer
	logbridge.Logger(slog.New(slog.NewTextHandler(&buf, nil))).Info("hello", zap.Int("n", 1))
	if s := buf.String(); !strings.Contains(s, "msg=hello") || !strings.Contains(s, "n=1") {
		t.Fatalf("text %q", s)
	}
}
