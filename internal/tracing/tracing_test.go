package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTracerOnlyWhenRecording checks that no tracer comes from otel's
// default global provider or a noop one, at no allocation, and that an
// SDK provider's does.
func TestTracerOnlyWhenRecording(t *testing.T) {
	if Tracer(nil) != nil {
		t.Fatal("a tracer from the default global provider")
	}
	if Tracer(noop.NewTracerProvider()) != nil || Tracer(&noop.TracerProvider{}) != nil {
		t.Fatal("a tracer from a noop provider")
	}
	if n := testing.AllocsPerRun(100, func() { _ = Tracer(nil) }); n != 0 {
		t.Fatalf("%v allocations with no provider", n)
	}
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	if Tracer(tp) == nil {
		t.Fatal("no tracer from an SDK provider")
	}
}

// TestCarrier checks the carrier's round trip, with and without a
// tracestate, and that nothing is written without a span context.
func TestCarrier(t *testing.T) {
	if b := AppendCarrier(nil, context.Background()); b != nil {
		t.Fatalf("carrier % x without a span context", b)
	}
	ts, err := trace.ParseTraceState("k=v,x=y")
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]trace.TraceState{"no state": {}, "state": ts} {
		t.Run(name, func(t *testing.T) {
			sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{8},
				TraceFlags: trace.FlagsSampled, TraceState: st})
			b := AppendCarrier([]byte{0xff}, trace.ContextWithSpanContext(context.Background(), sc))
			got, n, ok := ReadCarrier(b[1:])
			if !ok || n != len(b)-1 || !got.IsRemote() || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() ||
				got.TraceState().String() != st.String() || !got.IsSampled() {
				t.Fatalf("% x read as %v (%d, %v)", b, got, n, ok)
			}
			for cut := range len(b) - 1 {
				if _, _, ok := ReadCarrier(b[1 : 1+cut]); ok {
					t.Fatalf("a carrier cut to %d bytes read", cut)
				}
			}
		})
	}
	if _, _, ok := ReadCarrier([]byte{0x81, 0x01}); ok {
		t.Fatal("a carrier of a number read")
	}
	if sc, _, ok := ReadCarrier([]byte{0x81, 0x61, 'x'}); !ok || sc.IsValid() {
		t.Fatalf("a bad traceparent: %v %v", sc, ok)
	}
}
