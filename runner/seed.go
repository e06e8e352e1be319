package runner

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"hash/fnv"
	mrand "math/rand/v2"
)

// Reproducible random streams (mirai gives every daemon an L'Ecuyer
// stream; we give every task one). A dispatcher has a 64-bit seed
// (WithSeed, else random); each task's seed is derived from it and from
// where the task stands in the program, never from which daemon runs it
// or when:
//
//   - a Submit or TrySubmit takes the next stream number of its
//     dispatcher (1, 2, ...: the order of the Submit calls; Everywhere's
//     tasks do not count) and its seed is derived from (seed, stream, 0);
//   - a Map takes one stream number for the whole map and its input i gets
//     the seed derived from (seed, stream, i+1);
//   - an Everywhere task on daemon id gets the seed derived from (seed,
//     0, a hash of id).
//
// So a program that submits in the same order with the same WithSeed
// gives every task the same seed, whichever daemon runs it and however
// many daemons there are. The seed travels in the task message (its 8th
// element, see the wire protocol) to process daemons as to in-process
// ones; a task reads it with SeedFrom or RandFrom. A re-queued task
// (Requeue) keeps its seed.

// WithSeed sets the dispatcher's seed, from which every task's seed is
// derived (see SeedFrom): two dispatchers with the same seed, given the
// same submissions in the same order, give their tasks the same seeds.
// Without it a dispatcher draws a seed from crypto/rand, so runs differ.
// Every value, 0 included, is a valid seed.
func WithSeed(seed uint64) DispatcherOption {
	return dispatcherOptionFunc(func(c *dispatcherConfig) { c.seed, c.seedSet = seed, true })
}

// randomSeed draws a dispatcher seed from crypto/rand.
func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return binary.LittleEndian.Uint64(b[:])
}

// splitmix64 is SplitMix64's output function: a bijective mix of x whose
// outputs for neighbouring inputs look unrelated.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// deriveSeed is the seed of a task: a mix of the dispatcher's seed, the
// stream number and the item number. It is never 0, which on the wire
// means "no seed" (a dispatcher from before seeds).
func deriveSeed(seed, stream, item uint64) uint64 {
	x := splitmix64(seed ^ splitmix64(stream))
	x = splitmix64(x ^ splitmix64(item^0x5851f42d4c957f2d))
	if x == 0 {
		x = 1
	}
	return x
}

// idItem is the item number of an Everywhere task on daemon id.
func idItem(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64()
}

// SeedFrom returns the seed of the task whose ctx this is, and true; false
// for a context that is not a task's, or a task from a dispatcher older
// than seeds. The seed is derived from the dispatcher's seed (WithSeed)
// and the task's place among the submissions (see WithSeed), so it is the
// same whichever daemon runs the task. It costs a context lookup.
func SeedFrom(ctx context.Context) (uint64, bool) {
	if c, ok := ctx.Value(attemptKey{}).(*attemptCtx); ok && c.seed != 0 {
		return c.seed, true
	}
	return 0, false
}

// RandFrom returns a random generator (math/rand/v2, PCG) seeded with the
// task's seed (SeedFrom), and true: a task that draws its random numbers
// from it gives the same results for the same dispatcher seed, whichever
// daemon runs it. For a context that is not a task's it returns a
// generator seeded from crypto/rand, and false. Each call makes a new
// generator at the start of the stream (two allocations); keep the one
// you need. A *rand.Rand is not safe for concurrent use.
func RandFrom(ctx context.Context) (*mrand.Rand, bool) {
	seed, ok := SeedFrom(ctx)
	if !ok {
		seed = randomSeed()
	}
	return mrand.New(mrand.NewPCG(seed, splitmix64(seed))), ok
}
