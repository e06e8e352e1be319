// Package logbridge lets nanoact's zap logging write to a log/slog
// handler: NewCore is a zapcore.Core over a slog.Handler, and Logger turns
// a *slog.Logger into the *zap.Logger every nanoact component takes. zap
// stays the engine (its Check guards keep disabled levels free); only
// entries that pass the handler's Enabled cost a slog.Record.
//
// zap's own go.uber.org/zap/exp/zapslog goes the other way (a slog
// handler over a zap core), which the actor package uses for protoactor.
//
// Mapping: zap's Debug, Info, Warn and Error are slog's four levels;
// DPanic, Panic and Fatal are slog.LevelError+2, +4 and +8. A named
// logger's name goes in a "logger" attribute, a stack trace in
// "stacktrace", the caller's program counter in the record (for
// slog.HandlerOptions.AddSource). Fields keep their order and their types
// where slog has one (strings, integers, floats, bools, durations, times,
// errors, byte strings); zap.Namespace opens a slog group that holds the
// fields after it; objects and arrays become maps and slices, as zap's
// map encoder writes them.
package logbridge

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Logger returns a *zap.Logger writing to l's handler; nil for a nil l,
// so that the caller's "nil means none" default applies. It costs one
// small allocation.
func Logger(l *slog.Logger) *zap.Logger {
	if l == nil {
		return nil
	}
	return zap.New(NewCore(l.Handler()))
}

// NewCore returns a zapcore.Core that writes every entry h enables to h.
// It is safe for concurrent use if h is, as slog handlers must be. Sync
// does nothing: slog handlers have no flush.
func NewCore(h slog.Handler) zapcore.Core { return &core{h: h} }

type core struct {
	h slog.Handler
	// ns is the namespace (zap.Namespace) that With left open, if hasNS:
	// fields added later go into it.
	ns    string
	hasNS bool
	// held are With's fields inside the open namespaces, which slog can
	// only add to a group together with the group itself: they are
	// written with each record.
	held []zapcore.Field
}

// Level maps a zap level to slog's.
func Level(l zapcore.Level) slog.Level {
	switch l {
	case zapcore.DebugLevel:
		return slog.LevelDebug
	case zapcore.InfoLevel:
		return slog.LevelInfo
	case zapcore.WarnLevel:
		return slog.LevelWarn
	case zapcore.ErrorLevel:
		return slog.LevelError
	case zapcore.DPanicLevel:
		return slog.LevelError + 2
	case zapcore.PanicLevel:
		return slog.LevelError + 4
	case zapcore.FatalLevel:
		return slog.LevelError + 8
	}
	return slog.Level(int(l) * 4) // zap levels step by one, slog's by four
}

func (c *core) Enabled(l zapcore.Level) bool {
	return c.h.Enabled(context.Background(), Level(l))
}

func (c *core) With(fs []zapcore.Field) zapcore.Core {
	if len(fs) == 0 {
		return c
	}
	if c.hasNS {
		// Inside a namespace: keep the fields for Write, which writes them
		// in the group with the record's own.
		return &core{h: c.h, ns: c.ns, hasNS: true, held: append(slices.Clip(c.held), fs...)}
	}
	for i, f := range fs {
		if f.Type == zapcore.NamespaceType {
			h := c.h
			if as := attrs(fs[:i]); len(as) > 0 {
				h = h.WithAttrs(as)
			}
			nc := &core{h: h, ns: f.Key, hasNS: true}
			return nc.With(fs[i+1:])
		}
	}
	return &core{h: c.h.WithAttrs(attrs(fs))}
}

func (c *core) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *core) Write(e zapcore.Entry, fs []zapcore.Field) error {
	r := slog.NewRecord(e.Time, Level(e.Level), e.Message, e.Caller.PC)
	var extra []slog.Attr
	if e.LoggerName != "" {
		extra = append(extra, slog.String("logger", e.LoggerName))
	}
	if e.Stack != "" {
		extra = append(extra, slog.String("stacktrace", e.Stack))
	}
	if !c.hasNS {
		r.AddAttrs(extra...)
		r.AddAttrs(attrs(fs)...)
		return c.h.Handle(context.Background(), r)
	}
	// The fields of a namespace opened by With go in its group; the
	// entry's own name and stack stay outside, at the top.
	h := c.h
	if len(extra) > 0 {
		h = h.WithAttrs(extra)
	}
	all := append(slices.Clip(c.held), fs...)
	group := slog.Attr{Key: c.ns, Value: slog.GroupValue(attrs(all)...)}
	r.AddAttrs(group)
	return h.Handle(context.Background(), r)
}

func (c *core) Sync() error { return nil }

// attrs converts zap fields to slog attributes, in order; a namespace
// field puts every field after it in a group of its name.
func attrs(fs []zapcore.Field) []slog.Attr {
	out := make([]slog.Attr, 0, len(fs))
	for i, f := range fs {
		if f.Type == zapcore.NamespaceType {
			return append(out, slog.Attr{Key: f.Key, Value: slog.GroupValue(attrs(fs[i+1:])...)})
		}
		if a, ok := attr(f); ok {
			out = append(out, a)
		}
	}
	return out
}

// attr converts one field; false for a field that writes nothing
// (zap.Skip, a nil error).
func attr(f zapcore.Field) (slog.Attr, bool) {
	switch f.Type {
	case zapcore.SkipType:
		return slog.Attr{}, false
	case zapcore.StringType:
		return slog.String(f.Key, f.String), true
	case zapcore.BoolType:
		return slog.Bool(f.Key, f.Integer == 1), true
	case zapcore.Int64Type, zapcore.Int32Type, zapcore.Int16Type, zapcore.Int8Type:
		return slog.Int64(f.Key, f.Integer), true
	case zapcore.Uint64Type, zapcore.Uint32Type, zapcore.Uint16Type, zapcore.Uint8Type, zapcore.UintptrType:
		return slog.Uint64(f.Key, uint64(f.Integer)), true
	case zapcore.Float64Type:
		return slog.Float64(f.Key, math.Float64frombits(uint64(f.Integer))), true
	case zapcore.Float32Type:
		return slog.Float64(f.Key, float64(math.Float32frombits(uint32(f.Integer)))), true
	case zapcore.DurationType:
		return slog.Duration(f.Key, time.Duration(f.Integer)), true
	case zapcore.TimeType:
		t := time.Unix(0, f.Integer)
		if loc, ok := f.Interface.(*time.Location); ok {
			t = t.In(loc)
		}
		return slog.Time(f.Key, t), true
	case zapcore.TimeFullType:
		t, _ := f.Interface.(time.Time)
		return slog.Time(f.Key, t), true
	case zapcore.ByteStringType:
		b, _ := f.Interface.([]byte)
		return slog.String(f.Key, string(b)), true
	case zapcore.ErrorType:
		err, _ := f.Interface.(error)
		if err == nil {
			return slog.Attr{}, false
		}
		return slog.Any(f.Key, err), true
	case zapcore.StringerType:
		return slog.String(f.Key, stringOf(f.Interface)), true
	case zapcore.ReflectType, zapcore.BinaryType, zapcore.Complex128Type, zapcore.Complex64Type:
		return slog.Any(f.Key, f.Interface), true
	}
	// Objects, arrays, inline objects: as zap's map encoder writes them.
	enc := zapcore.NewMapObjectEncoder()
	f.AddTo(enc)
	if v, ok := enc.Fields[f.Key]; ok && len(enc.Fields) == 1 {
		return slog.Any(f.Key, v), true
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	group := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		group = append(group, slog.Any(k, enc.Fields[k]))
	}
	return slog.Attr{Key: "", Value: slog.GroupValue(group...)}, true // inlined by slog
}

// stringOf calls String, turning a panic (a nil pointer receiver, as zap
// guards too) into text.
func stringOf(v any) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("<PANIC=%v>", r)
		}
	}()
	if st, ok := v.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprint(v)
}
