package rpc_test

import (
	"context"
	"fmt"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/nanoact/nanoact/rpc"
)

// BenchmarkRPCTrace is a Serial-mode Call over inproc with no tracer
// provider (otel's default global one: no spans) and with an SDK provider
// that records every span but exports none: the cost of the spans and of
// the trace context in the request.
func BenchmarkRPCTrace(b *testing.B) {
	sdk := sdktrace.NewTracerProvider()
	defer func() { _ = sdk.Shutdown(context.Background()) }()
	for _, c := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"off", nil}, {"sdk", sdk}} {
		b.Run(c.name, func(b *testing.B) {
			var opts []rpc.Option
			if c.tp != nil {
				opts = append(opts, rpc.WithTracerProvider(c.tp))
			}
			srv, err := rpc.NewServer(func(_ context.Context, n int) (int, error) { return n, nil },
				rpc.WithListen(fmt.Sprintf("inproc://trace-bench-%d", seq.Add(1))), rpc.WithRPCOptions(opts...))
			cl := traceClient(b, srv, err)
			ctx := context.Background()
			if c.tp != nil {
				var root trace.Span
				ctx, root = c.tp.Tracer("bench").Start(ctx, "root")
				defer root.End()
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rpc.Call[int](ctx, cl, 7, opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
