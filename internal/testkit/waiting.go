package testkit

import (
	"context"
	"sync"
)

// waitingCtx is a context that reports the first call of its Done.
type waitingCtx struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// Waiting returns a context like ctx and a channel closed the first time
// something looks at the context's Done: a blocking call does so as it
// starts to wait (in its select), so a test can act on "the call now
// waits" as an event instead of sleeping. It holds only for calls that
// look at Done first when they wait, not earlier (as context.WithCancel
// of it does, at once): check the call under test before relying on it.
// It does not block and costs one sync.Once per Done.
func Waiting(ctx context.Context) (context.Context, <-chan struct{}) {
	c := &waitingCtx{Context: ctx, waiting: make(chan struct{})}
	return c, c.waiting
}
