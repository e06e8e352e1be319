// Package slogrec is a log/slog handler for tests that keeps what it is
// given, so that a test can check the lines a component wrote through a
// *slog.Logger.
package slogrec

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// Line is one record as a handler saw it: its level, message and every
// attribute, those added by WithAttrs first, keyed by name (groups
// flattened as "group.key").
type Line struct {
	Level slog.Level
	Msg   string
	Attrs map[string]slog.Value
}

// Recorder keeps the lines written to its handlers. The zero value is not
// ready: use New.
type Recorder struct {
	mu    sync.Mutex
	lines []Line
	level slog.Level
}

// New returns a Recorder enabled from level up, and a logger writing to
// it.
func New(level slog.Level) (*Recorder, *slog.Logger) {
	r := &Recorder{level: level}
	return r, slog.New(&handler{r: r})
}

// Lines returns the lines written so far with message msg ("" for all).
func (r *Recorder) Lines(msg string) []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.lines), func(l Line) bool { return msg != "" && l.Msg != msg })
}

type handler struct {
	r      *Recorder
	attrs  []slog.Attr
	prefix string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.r.level }

func (h *handler) Handle(_ context.Context, rec slog.Record) error {
	line := Line{Level: rec.Level, Msg: rec.Message, Attrs: map[string]slog.Value{}}
	for _, a := range h.attrs {
		flatten(line.Attrs, "", a)
	}
	rec.Attrs(func(a slog.Attr) bool {
		flatten(line.Attrs, h.prefix, a)
		return true
	})
	h.r.mu.Lock()
	h.r.lines = append(h.r.lines, line)
	h.r.mu.Unlock()
	return nil
}

func flatten(m map[string]slog.Value, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, g := range v.Group() {
			flatten(m, p, g)
		}
		return
	}
	m[prefix+a.Key] = v
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	nh := *h
	nh.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		if h.prefix != "" {
			a.Key = h.prefix + a.Key
		}
		nh.attrs = append(nh.attrs, a)
	}
	return &nh
}

func (h *handler) WithGroup(name string) slog.Handler {
	nh := *h
	nh.prefix = h.prefix + name + "."
	return &nh
}
