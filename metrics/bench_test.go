package metrics_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanoact/nanoact/metrics"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/sockets"
)

// collectorModes are the three states a hot path can be in: no collector,
// a collector made but never registered (must cost nothing), and a
// registered one (its histogram observes).
var collectorModes = []string{"none", "unregistered", "registered"}

func setup(mode string, c prometheus.Collector) {
	switch mode {
	case "unregistered":
	case "registered":
		prometheus.NewRegistry().MustRegister(c)
	}
}

// BenchmarkRPCRoundTrip is one request over inproc to an rpc.Server, in
// each collector mode.
func BenchmarkRPCRoundTrip(b *testing.B) {
	for _, mode := range collectorModes {
		b.Run(mode, func(b *testing.B) {
			srv, err := rpc.NewServer(func(_ context.Context, n int) (int, error) { return n, nil },
				rpc.WithListen(fmt.Sprintf("inproc://metrics-bench-%d", seq.Add(1))), rpc.WithWorkers(1))
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			if mode != "none" {
				c := metrics.NewRPCCollector("bench", srv)
				defer c.Close()
				setup(mode, c)
			}
			req, err := sockets.New(sockets.Req, sockets.Dial(srv.URL(), sockets.Sync))
			if err != nil {
				b.Fatal(err)
			}
			defer req.Close()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := req.Send(ctx, 1); err != nil {
					b.Fatal(err)
				}
				m, err := req.Recv(ctx)
				if err != nil {
					b.Fatal(err)
				}
				m.Free()
			}
		})
	}
}

// BenchmarkTaskRoundTrip is one task on one in-process daemon, submitted
// and awaited, in each collector mode.
func BenchmarkTaskRoundTrip(b *testing.B) {
	for _, mode := range collectorModes {
		b.Run(mode, func(b *testing.B) {
			reg := runner.NewRegistry()
			id := runner.Register(reg, "id", func(_ context.Context, n int) (int, error) { return n, nil })
			d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			ctx := context.Background()
			if _, err := d.StartDaemons(ctx, 1); err != nil {
				b.Fatal(err)
			}
			if mode != "none" {
				c := metrics.NewRunnerCollector("bench", d)
				defer c.Close()
				setup(mode, c)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := id.Submit(ctx, d, 1).Value(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
