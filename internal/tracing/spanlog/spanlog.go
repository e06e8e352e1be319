// Package spanlog is a test helper: an OpenTelemetry span processor that
// keeps the spans that end and lets a test wait for one by name, since
// some spans end just after the result their test waits for.
package spanlog

import (
	"context"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Log keeps ended spans. Make it with New.
type Log struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
	ended chan struct{} // a token after each End
}

// New returns a Log and an SDK TracerProvider that records every span
// into it; the provider is shut down when the test ends.
func New(t testing.TB) (*Log, *sdktrace.TracerProvider) {
	l := &Log{ended: make(chan struct{}, 1)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(l))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return l, tp
}

// OnStart does nothing.
func (l *Log) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// Shutdown does nothing.
func (l *Log) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (l *Log) ForceFlush(context.Context) error { return nil }

// OnEnd keeps s and wakes Wait.
func (l *Log) OnEnd(s sdktrace.ReadOnlySpan) {
	l.mu.Lock()
	l.spans = append(l.spans, s)
	l.mu.Unlock()
	select {
	case l.ended <- struct{}{}:
	default:
	}
}

// Wait returns the first ended span called name, waiting for it until ctx
// ends (then the test fails).
func (l *Log) Wait(ctx context.Context, t testing.TB, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for {
		if s := l.find(name); s != nil {
			return s
		}
		select {
		case <-l.ended:
		case <-ctx.Done():
			t.Fatalf("no span %q ended", name)
		}
	}
}

func (l *Log) find(name string) sdktrace.ReadOnlySpan {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// Reset forgets the spans kept so far.
func (l *Log) Reset() {
	l.mu.Lock()
	l.spans = nil
	l.mu.Unlock()
}
