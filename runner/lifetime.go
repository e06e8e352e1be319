package runner

// Daemon lifetimes beside WithIdleExit, WithMaxTasks and
// WithReconnectGrace (issue 17.6): a wall-time limit, a cleanup hook run
// after every task, and letting the running tasks finish when the
// dispatcher goes away.

import (
	"context"
	"errors"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact/sockets"
)

// errWallTime is the cause of a daemon's end at its wall time while
// disconnected (connected, it leaves and ends on the dispatcher's bye).
var errWallTime = errors.New("wall time reached")

// WithWallTime makes the daemon leave d after Run starts (mirai's
// walltime; default 0: never): it tells the dispatcher it is leaving, so
// that no new task is sent to it, finishes the tasks it runs, and exits
// on the dispatcher's bye, which comes once they have returned. Run then
// returns nil. A daemon whose connection is lost after its wall time
// does not redial; one disconnected when it passes exits at once. Zero
// or negative means no limit.
func WithWallTime(d time.Duration) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.wallTime = d })
}

// WithCleanup makes the daemon call fn after every task returns, on the
// task's goroutine, before its result is sent (mirai's cleanup): restore
// what tasks may change (package variables, caches, the working
// directory), or run the garbage collector. Since the result waits for
// it, a daemon running one task at a time (WithConcurrency(1), the
// default) starts its next task only after fn has returned. With more, fn
// runs concurrently with other tasks and must be safe for it. A panic in
// fn is recovered and logged at Warn; the task's result still goes.
func WithCleanup(fn func()) DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.cleanup = fn })
}

// WithFinishRunning makes the daemon let its running tasks finish when
// the dispatcher goes away, then exit (mirai's autoexit = NA): on the
// dispatcher's bye, or when its connection is lost (it then does not
// redial: WithReconnectGrace does not apply), the tasks' contexts are not
// cancelled; the daemon takes no new task and no new connection, and Run
// returns once they have returned (nil after a bye, an error matching
// ErrConnShut after a loss). Their results go nowhere: the dispatcher
// has resolved, re-queued or failed those tasks already. Run's ctx
// ending, or Close, still cancels them (then WithInterruptGrace bounds
// the wait). The default cancels running tasks at once when the
// dispatcher goes away.
func WithFinishRunning() DaemonOption {
	return daemonOptionFunc(func(c *daemonConfig) { c.finish = true })
}

// armWallTime starts the wall-time timer; call with mu held, as Run
// starts.
func (dm *Daemon) armWallTime() {
	if dm.cfg.wallTime > 0 {
		dm.wall = time.AfterFunc(dm.cfg.wallTime, dm.onWallTime)
	}
}

// onWallTime runs when the wall time has passed: the daemon leaves (see
// WithWallTime).
func (dm *Daemon) onWallTime() {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if dm.closed || dm.runState != 1 {
		return
	}
	dm.wallDone = true
	dm.log.Info("wall time reached: leaving once the running tasks return", zap.Duration("wall", dm.cfg.wallTime),
		zap.Int("running", len(dm.running)))
	if dm.pipe == 0 {
		dm.stop(errWallTime)
		return
	}
	if !dm.leaving {
		dm.leaving = true
		dm.sendLeave(dm.pipe)
	}
}

// sendLeave tells the dispatcher on pipe that the daemon is leaving; call
// with mu held.
func (dm *Daemon) sendLeave(pipe uint32) {
	m := sockets.NewMsg(nil)
	m.Body = appendSimple(m.Body[:0], kindLeave)
	_ = dm.sock.Send(sockets.NonBlock(dm.life), m, sockets.ToPipe(pipe))
}

// runCleanup calls WithCleanup's function, if any, recovering a panic.
func (dm *Daemon) runCleanup() {
	if dm.cfg.cleanup == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			dm.log.Warn("cleanup panicked", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
	}()
	dm.cfg.cleanup()
}

// finishOnLoss deals with a lost connection under WithFinishRunning: the
// daemon stops, its running tasks left to finish; false without it (or
// after Close). Call with mu held.
func (dm *Daemon) finishOnLoss() bool {
	if !dm.cfg.finish || dm.closed {
		return false
	}
	if dm.life.Err() == nil {
		dm.log.Info("connection lost: exiting once the running tasks return", zap.Int("running", len(dm.running)))
		dm.stop(errLost)
	}
	return true
}

// wind ends Run: it cancels the running tasks (under WithFinishRunning,
// once they have returned, ctx has ended or Close is called, when the
// dispatcher has gone) and waits for them, at most WithInterruptGrace.
// It returns the tasks it left running.
func (dm *Daemon) wind(ctx context.Context) []LeftTask {
	cause := context.Cause(dm.life)
	dm.mu.Lock()
	dm.runState = 2
	if dm.wall != nil {
		dm.wall.Stop()
	}
	dm.mu.Unlock()
	if dm.cfg.finish && (cause == errBye || cause == errLost) {
		if ch := dm.liveDone(); ch != nil {
			dm.log.Info("the dispatcher has gone: letting the running tasks finish")
			select {
			case <-ch:
				return nil
			case <-ctx.Done():
			case <-dm.closing:
			}
		}
	}
	dm.cancelAll()
	return dm.waitTasks()
}

// cancelAll cancels the contexts of the running tasks.
func (dm *Daemon) cancelAll() {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	for _, tc := range dm.running {
		tc.cancel()
	}
}
