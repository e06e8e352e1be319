package sockets

import (
	"context"
	"testing"

	"github.com/nanoact/nanoact/actor"
)

// idleActor handles nothing: the child actor a Context used to cost.
type idleActor struct{}

func (idleActor) Receive(*actor.Context) {}

// BenchmarkContext measures what a Context costs, for the choice the
// package doc records (contexts are not actors):
//
//   - open-close: Socket.Context and Context.Close, as they are.
//   - open-close+actor: the same plus spawning and stopping one idle actor,
//     the child actor each context used to be.
//   - 1000: opening 1,000 contexts on one socket and closing them (ns/op
//     is per 1,000), with and without an actor each.
//   - op/direct and op/mailbox: one control operation (a sub context's
//     Subscribe) called directly, as it is, and run through the socket
//     actor's mailbox, as it would be if the context's state machine lived
//     in an actor.
func BenchmarkContext(b *testing.B) {
	s, err := New(Sub)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	bg := context.Background()
	withActor := func(b *testing.B) func() {
		ref, err := actor.Default().Spawn("", idleActor{})
		if err != nil {
			b.Fatal(err)
		}
		return func() { _ = ref.Stop(bg) }
	}
	b.Run("open-close", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := s.Context()
			if err != nil {
				b.Fatal(err)
			}
			_ = c.Close()
		}
	})
	b.Run("open-close+actor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := s.Context()
			if err != nil {
				b.Fatal(err)
			}
			stop := withActor(b)
			_ = c.Close()
			stop()
		}
	})
	for _, name := range []string{"1000", "1000+actor"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cs := make([]*Context, 1000)
			stops := make([]func(), 1000)
			for b.Loop() {
				for i := range cs {
					if cs[i], err = s.Context(); err != nil {
						b.Fatal(err)
					}
					if name != "1000" {
						stops[i] = withActor(b)
					}
				}
				for i, c := range cs {
					_ = c.Close()
					if name != "1000" {
						stops[i]()
					}
				}
			}
		})
	}
	c, err := s.Context()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.Run("op/direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Subscribe("t"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op/mailbox", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.control("sockets: subscribe", func() error { return c.Subscribe("t") }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
