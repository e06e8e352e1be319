package actor_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"

	"github.com/nanoact/nanoact/actor"
)

type sink struct{ n int }

func (s *sink) Receive(c *actor.Context) {
	switch c.Message().(type) {
	case int:
		s.n++
	case string:
		c.Respond(s.n)
	}
}

// BenchmarkSend measures one-way throughput into one mailbox, including
// the time to drain it (a final Request).
func BenchmarkSend(b *testing.B) {
	s := newSystem(b)
	ref := spawn(b, s, "", &sink{})
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		ref.Send(1)
	}
	if _, err := ref.Request(ctx, "drain"); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkRequest(b *testing.B) {
	s := newSystem(b)
	ref := spawn(b, s, "", &sink{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ref.Request(ctx, "get"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCall(b *testing.B) {
	s := newSystem(b)
	ref := spawn(b, s, "", &sink{})
	ctx := context.Background()
	fn := func() {}
	b.ReportAllocs()
	for b.Loop() {
		if err := ref.Call(ctx, fn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpawnStop spawns an actor and stops it, waiting for Stopped.
func BenchmarkSpawnStop(b *testing.B) {
	s := newSystem(b)
	ctx := context.Background()
	r := &sink{}
	b.ReportAllocs()
	for b.Loop() {
		ref, err := s.Spawn("", r)
		if err != nil {
			b.Fatal(err)
		}
		if err := ref.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// The same cases on bare protoactor, measured in the same run for the
// ratio.

func newProtoactor(b *testing.B) *pa.ActorSystem {
	as := pa.NewActorSystem(pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	b.Cleanup(as.Shutdown)
	return as
}

func BenchmarkProtoactorRequestFuture(b *testing.B) {
	as := newProtoactor(b)
	pid := as.Root.Spawn(pa.PropsFromFunc(func(c pa.Context) {
		if _, ok := c.Message().(string); ok {
			c.Respond(1)
		}
	}))
	defer func() { _ = as.Root.StopFuture(pid).Wait() }()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := as.Root.RequestFuture(pid, "get", time.Second).Result(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProtoactorSpawnStop(b *testing.B) {
	as := newProtoactor(b)
	props := pa.PropsFromFunc(func(pa.Context) {})
	b.ReportAllocs()
	for b.Loop() {
		pid := as.Root.Spawn(props)
		if err := as.Root.StopFuture(pid).Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewSystem measures NewSystem plus Close: protoactor's process
// registry makes a System heavy, so share one (Default) rather than make
// one per component.
func BenchmarkNewSystem(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := actor.NewSystem().Close(); err != nil {
			b.Fatal(err)
		}
	}
}
