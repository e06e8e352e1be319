package promises_test

import (
	"context"
	"testing"

	"github.com/nanoact/nanoact/promises"
)

// Each benchmark runs on the drained queue the package uses ("queue") and
// on a loop that hands every continuation to its actor with a Ref.Send of
// its own ("send"), the alternative the design weighed.
var modes = []struct {
	name string
	make func(...promises.Option) (*promises.Loop, error)
}{
	{"queue", promises.NewLoop},
	{"send", promises.NewDirectLoop},
}

func benchLoop(b *testing.B, mk func(...promises.Option) (*promises.Loop, error)) *promises.Loop {
	b.Helper()
	l, err := mk()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	return l
}

func inc(v int) (int, error) { return v + 1, nil }

// BenchmarkThenHop measures one hop of a chain that the loop runs while the
// benchmark goroutine keeps extending it: a Then registration, the queue
// push, and the continuation's run and settlement, per op.
func BenchmarkThenHop(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			l := benchLoop(b, m.make)
			q := promises.Resolved(l, 0)
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				q = q.Then(inc)
				n++
			}
			if v, err := q.Await(context.Background()); err != nil || v != n {
				b.Fatalf("chain = %d, %v; want %d", v, err, n)
			}
		})
	}
}

// BenchmarkRoundTrip measures the latency of one continuation from an idle
// loop: NewResolver, Then, resolve from this goroutine, and Await the
// result (the loop's actor wakes, runs it, and wakes the waiter).
func BenchmarkRoundTrip(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			l := benchLoop(b, m.make)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				p, resolve, _ := promises.NewResolver[int](l)
				q := p.Then(inc)
				resolve(1)
				if _, err := q.Await(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChain1000 builds a chain of 1000 Thens on a pending promise,
// resolves it and awaits the end, per op; ns/hop divides by 1000.
func BenchmarkChain1000(b *testing.B) {
	const hops = 1000
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			l := benchLoop(b, m.make)
			ctx := context.Background()
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				p, resolve, _ := promises.NewResolver[int](l)
				q := p
				for range hops {
					q = q.Then(inc)
				}
				resolve(0)
				if v, err := q.Await(ctx); err != nil || v != hops {
					b.Fatalf("chain = %d, %v", v, err)
				}
				n++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*hops), "ns/hop")
		})
	}
}

// BenchmarkCascade1000 is BenchmarkChain1000 with the timer stopped while
// the chain is built: the loop's own cost per continuation (dequeue, run,
// settle, queue the next), and the waiter's wake-up spread over 1000.
func BenchmarkCascade1000(b *testing.B) {
	const hops = 1000
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			l := benchLoop(b, m.make)
			ctx := context.Background()
			n := 0
			for b.Loop() {
				b.StopTimer()
				p, resolve, _ := promises.NewResolver[int](l)
				q := p
				for range hops {
					q = q.Then(inc)
				}
				b.StartTimer()
				resolve(0)
				if v, err := q.Await(ctx); err != nil || v != hops {
					b.Fatalf("chain = %d, %v", v, err)
				}
				n++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*hops), "ns/hop")
		})
	}
}

// BenchmarkAll100 waits for 100 promises settled by this goroutine.
func BenchmarkAll100(b *testing.B) {
	l := benchLoop(b, promises.NewLoop)
	ctx := context.Background()
	ps := make([]*promises.Promise[int], 100)
	rs := make([]func(int), 100)
	b.ReportAllocs()
	for b.Loop() {
		for i := range ps {
			ps[i], rs[i], _ = promises.NewResolver[int](l)
		}
		all := promises.All(ps...)
		for i, r := range rs {
			r(i)
		}
		if _, err := all.Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAwaitSettled is the cost of reading a settled promise.
func BenchmarkAwaitSettled(b *testing.B) {
	p := promises.Resolved(benchLoop(b, promises.NewLoop), 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
