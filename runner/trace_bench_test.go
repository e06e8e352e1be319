package runner_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/nanoact/nanoact/runner"
)

// BenchmarkRoundTripTraced is BenchmarkRoundTrip with an SDK tracer
// provider that records every span but exports none: the cost of a
// task's three spans and of its trace context.
func BenchmarkRoundTripTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	reg := runner.NewRegistry()
	nop := runner.Register(reg, "nop", func(context.Context, int) (int, error) { return 0, nil })
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg), runner.WithTracerProvider(tp))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if _, err := d.StartDaemons(ctx, 1); err != nil {
		b.Fatal(err)
	}
	ctx, root := tp.Tracer("bench").Start(ctx, "root")
	defer root.End()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := nop.Submit(ctx, d, n).Value(ctx); err != nil {
			b.Fatal(err)
		}
		n++
	}
}
