package actor_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nanoact/nanoact/actor"
)

// lockedCounter is a Receiver that is also a sync.Locker: its state is
// shared with code outside the actor that takes the same lock.
type lockedCounter struct {
	mu   sync.Mutex
	held atomic.Bool // set while the lock is held
	n    int
	bad  atomic.Int64 // messages or Calls that ran without the lock
}

func (c *lockedCounter) Lock()   { c.mu.Lock(); c.held.Store(true) }
func (c *lockedCounter) Unlock() { c.held.Store(false); c.mu.Unlock() }

func (c *lockedCounter) Receive(ctx *actor.Context) {
	if !c.held.Load() {
		c.bad.Add(1)
	}
	if ctx.Message() == "inc" {
		c.n++
	}
}

// The actor holds a Locker Receiver's lock around each message and each
// Call's function, so that code outside the actor can share its state
// under the same lock.
func TestLockerReceiver(t *testing.T) {
	s := newSystem(t)
	ctx := testCtx(t)
	c := &lockedCounter{}
	ref := spawn(t, s, "", c)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 200 {
			ref.Send("inc")
		}
	})
	wg.Go(func() {
		for range 200 { // outside the actor, under the lock
			c.Lock()
			c.n++
			c.Unlock()
		}
	})
	wg.Wait()
	var n int
	err := ref.Call(ctx, func() {
		if !c.held.Load() {
			c.bad.Add(1)
		}
		n = c.n
	})
	if err != nil || n != 400 {
		t.Fatalf("Call read n = %d, %v; want 400, nil", n, err)
	}
	if b := c.bad.Load(); b != 0 {
		t.Fatalf("%d messages or Calls ran without the lock", b)
	}
}
