package aio

import (
	"context"
	"time"
)

// opCtx is the context.Context an aio's operation runs under: the aio's
// own core, so that Stop and the time-out need no context.WithCancel or
// WithTimeout (three allocations fewer per aio). Done is the stop channel,
// Err says why it closed, Deadline is the time-out's, and Value answers
// only sockets.WithoutTimeout's key (Timeout(-1)).
//
// It implements AfterFunc, which context.WithTimeout and WithCancel look
// for: a connection that derives its own deadline from it (the socket's
// recv-timeout, when the aio has no Timeout) then costs no watcher
// goroutine.
type opCtx core

func (c *core) opCtx() context.Context { return (*opCtx)(c) }

func (c *opCtx) Deadline() (time.Time, bool) {
	x := c.x.Load()
	if x == nil || x.deadline.IsZero() {
		return time.Time{}, false
	}
	return x.deadline, true
}

func (c *opCtx) Done() <-chan struct{} { return (*core)(c).opState().stop }

func (c *opCtx) Err() error {
	select {
	case <-(*core)(c).opState().stop:
		if (*core)(c).stopped() == expired {
			return context.DeadlineExceeded
		}
		return context.Canceled
	default:
		return nil
	}
}

func (c *opCtx) Value(key any) any {
	if x := c.x.Load(); x != nil && x.forever {
		return forever.Value(key)
	}
	return nil
}

func (c *opCtx) String() string { return "aio operation context" }

// afterFunc is one function registered by AfterFunc.
type afterFunc struct{ fn func() }

// AfterFunc arranges for f to run in its own goroutine once the context
// is done, as context.AfterFunc does; stop unregisters it and reports
// whether it did so before f was started.
func (c *opCtx) AfterFunc(f func()) (stop func() bool) {
	cc := (*core)(c)
	cc.mu.Lock()
	if cc.stopped() != running {
		cc.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	e := &afterFunc{fn: f}
	l := cc.extra()
	l.afters = append(l.afters, e)
	cc.mu.Unlock()
	return func() bool {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		for i, x := range l.afters {
			if x == e {
				l.afters = append(l.afters[:i:i], l.afters[i+1:]...)
				return true
			}
		}
		return false
	}
}

// expiredCtx is the context of Timeout(0): its deadline has passed, so an
// operation completes only if it can at once and otherwise fails with
// ErrTimedOut, with the side effects of a time-out (a req abandons its
// request), as NNG's zero duration.
type expiredCtx struct{}

func (expiredCtx) Deadline() (time.Time, bool) { return time.Unix(0, 0), true }
func (expiredCtx) Done() <-chan struct{}       { return closedCh }
func (expiredCtx) Err() error                  { return context.DeadlineExceeded }
func (expiredCtx) Value(any) any               { return nil }
func (expiredCtx) String() string              { return "aio expired context" }
