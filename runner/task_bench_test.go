package runner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/runner"
)

func benchDispatcher(b *testing.B, daemons int, opts ...runner.DaemonOption) (*runner.Dispatcher, runner.Task[int, int]) {
	b.Helper()
	reg := runner.NewRegistry()
	nop := runner.Register(reg, "nop", func(context.Context, int) (int, error) { return 0, nil })
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	if _, err := d.StartDaemons(context.Background(), daemons, opts...); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.WaitDaemons(ctx, daemons); err != nil {
		b.Fatal(err)
	}
	return d, nop
}

// BenchmarkThroughput submits empty tasks with up to 4,096 outstanding
// and reports tasks per second, for 1, 4 and 16 in-process daemons (one
// task at a time each, mirai's default).
func BenchmarkThroughput(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("daemons=%d", n), func(b *testing.B) {
			d, nop := benchDispatcher(b, n)
			ctx := context.Background()
			const window = 4096
			ring := make([]*aio.Aio[int], window)
			b.ReportAllocs()
			start := time.Now()
			i := 0
			for b.Loop() {
				if a := ring[i%window]; a != nil {
					if _, err := a.Value(ctx); err != nil {
						b.Fatal(err)
					}
				}
				ring[i%window] = nop.Submit(ctx, d, i)
				i++
			}
			for _, a := range ring {
				if a != nil {
					if _, err := a.Value(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(i)/time.Since(start).Seconds(), "tasks/s")
		})
	}
}

// BenchmarkRoundTrip is the latency of one empty task: Submit, then wait
// for its result, with one in-process daemon.
func BenchmarkRoundTrip(b *testing.B) {
	d, nop := benchDispatcher(b, 1)
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := nop.Submit(ctx, d, n).Value(ctx); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n), "ns/task")
}

// BenchmarkProcessDaemons is BenchmarkThroughput with 4 daemon processes
// (this test binary re-executed, see TestHelperDaemonProcess) over ipc and
// tcp, running one task at a time each (mirai's default: latency-bound)
// or four (--max 4).
func BenchmarkProcessDaemons(b *testing.B) {
	for _, c := range []struct{ tr, max string }{{"ipc", "1"}, {"ipc", "4"}, {"tcp", "1"}, {"tcp", "4"}} {
		b.Run(c.tr+"/max="+c.max, func(b *testing.B) {
			d := launchBenchDaemons(b, c.tr, c.max)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			square := runner.TaskNamed[int, int]("square")
			const window = 4096
			ring := make([]*aio.Aio[int], window)
			b.ReportAllocs()
			start := time.Now()
			i := 0
			for b.Loop() {
				if a := ring[i%window]; a != nil {
					if _, err := a.Value(ctx); err != nil {
						b.Fatal(err)
					}
				}
				ring[i%window] = square.Submit(context.Background(), d, i)
				i++
			}
			for _, a := range ring {
				if a != nil {
					if _, err := a.Value(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(i)/time.Since(start).Seconds(), "tasks/s")
		})
	}
}
