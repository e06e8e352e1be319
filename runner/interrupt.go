package runner

// Stopping running work (issue 17.1): a task that ignores its cancel
// costs its process daemon (killed and replaced after the interrupt
// grace), and bounds what Close and a daemon's Run wait for in process,
// where a goroutine cannot be killed.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// DefaultInterruptGrace is the default WithInterruptGrace: one second.
const DefaultInterruptGrace = time.Second

// WithInterruptGrace sets how long a cancelled task has to return before
// it is given up on (default DefaultInterruptGrace; zero means the
// default, negative waits for ever). Go cannot stop a goroutine, so a
// task that does not watch its ctx keeps running after Stop, its ctx or
// TaskTimeout has cancelled it; its aio has resolved at once all the same
// (ErrCanceled or ErrTimedOut, matching ErrMayHaveRun). After the grace:
//
//   - on a dispatcher, a task still running on a daemon process that one
//     of its launchers started (LaunchLocal, LaunchSSH) costs that
//     process: it is killed and its launcher starts a fresh one in its
//     place (whatever WithRestart says), so the slot is back shortly after
//     the grace. The daemon's other tasks are lost with it (re-queued or
//     failed, as for a crash; Status counts it in Lost). A task on any
//     other daemon (in-process, or started by hand) keeps its slot busy
//     until it returns, and is logged at Warn;
//   - on a daemon that is stopping (the dispatcher's bye, Run's ctx,
//     Close, a lost connection), Run and Close stop waiting for the tasks
//     still running and return an error matching nanoact.ErrTimedOut that
//     lists them (a *LeftRunningError). A daemon process then exits,
//     ending them; an in-process daemon leaves their goroutines running.
//     So Dispatcher.Close, which stops its in-process daemons (StartDaemons
//     gives them the dispatcher's grace), returns within about the grace
//     whatever their tasks do, and reports what it left running.
func WithInterruptGrace(d time.Duration) RunnerOption {
	return runnerOption{
		d:  func(c *dispatcherConfig) { c.interruptGrace = d },
		dm: func(c *daemonConfig) { c.interruptGrace = d },
	}
}

// interruptGrace resolves a WithInterruptGrace value: the default for
// zero, negative for ever.
func interruptGrace(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultInterruptGrace
	}
	return d
}

// LeftTask is a task that was still running, its cancel ignored, when a
// daemon stopped waiting for it.
type LeftTask struct {
	// Name is the task's registered name.
	Name string
	// Daemon is the id of the daemon it runs on.
	Daemon string
	// Attempt is the task's id and attempt number (zero from a dispatcher
	// older than attempt ids).
	Attempt Attempt
}

// LeftRunningError lists the tasks a daemon's Run or Close, or a
// Dispatcher's Close, left running after WithInterruptGrace: tasks that
// ignored their cancel, whose goroutines an in-process daemon cannot
// stop. It comes wrapped in a *nanoact.Error of code CodeTimedOut; find
// it with errors.As.
type LeftRunningError struct {
	// Tasks are the tasks left running.
	Tasks []LeftTask
	// Cause is why the daemon stopped (nil after the dispatcher's bye,
	// or for a dispatcher's Close).
	Cause error
}

// Error names the tasks left running.
func (e *LeftRunningError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d task(s) left running, ignoring their cancel (a goroutine cannot be stopped):", len(e.Tasks))
	for i, t := range e.Tasks {
		if i == 8 {
			fmt.Fprintf(&b, " and %d more", len(e.Tasks)-i)
			break
		}
		fmt.Fprintf(&b, " %s (task %d, attempt %d) on daemon %s;", t.Name, t.Attempt.Task, t.Attempt.Number, t.Daemon)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap returns Cause.
func (e *LeftRunningError) Unwrap() error { return e.Cause }

// leftError wraps tasks left running, if any, as op's error.
func leftError(op string, tasks []LeftTask, cause error) error {
	if len(tasks) == 0 {
		return cause
	}
	return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: op, Err: &LeftRunningError{Tasks: tasks, Cause: cause}}
}

// Daemon side: the tasks whose goroutines have not returned.

// addLive records the task goroutine about to start for wire id; call
// with dm.mu held.
func (dm *Daemon) addLive(id uint64, name string, f *frame) {
	if dm.live == nil {
		dm.live = make(map[uint64]LeftTask)
	}
	dm.live[id] = LeftTask{Name: name, Daemon: dm.id, Attempt: Attempt{Task: f.task, Number: int(min(f.attempt, 1<<31))}}
}

// doneLive records that the goroutine of wire id has returned, waking
// waitTasks when it was the last.
func (dm *Daemon) doneLive(id uint64) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	delete(dm.live, id)
	if len(dm.live) == 0 && dm.liveWait != nil {
		close(dm.liveWait)
		dm.liveWait = nil
	}
}

// liveDone returns a channel closed once no task goroutine runs (nil if
// none runs now).
func (dm *Daemon) liveDone() <-chan struct{} {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if len(dm.live) == 0 {
		return nil
	}
	if dm.liveWait == nil {
		dm.liveWait = make(chan struct{})
	}
	return dm.liveWait
}

// waitTasks waits, after their cancel, for the task goroutines to return,
// at most the interrupt grace; it returns those it gave up on. Once it
// has given up, later calls do not wait again.
func (dm *Daemon) waitTasks() []LeftTask {
	dm.mu.Lock()
	gaveUp := dm.abandoned
	dm.mu.Unlock()
	ch := dm.liveDone()
	if ch == nil || gaveUp {
		return nil
	}
	grace := interruptGrace(dm.cfg.interruptGrace)
	if grace < 0 {
		<-ch
		return nil
	}
	tm := time.NewTimer(grace)
	defer tm.Stop()
	select {
	case <-ch:
		return nil
	case <-tm.C:
	}
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if dm.abandoned {
		return nil // the other waiter (Run or Close) reports them
	}
	dm.abandoned = true
	left := make([]LeftTask, 0, len(dm.live))
	for _, t := range dm.live {
		t.Name = strings.Clone(t.Name) // it aliases the task's message
		left = append(left, t)
	}
	slices.SortFunc(left, func(a, b LeftTask) int { return compareUint(a.Attempt.Task, b.Attempt.Task) })
	if len(left) > 0 {
		dm.log.Warn("tasks ignore their cancel: left running", zap.Int("tasks", len(left)), zap.Duration("grace", grace))
	}
	return left
}

// Dispatcher side: cancelled tasks that stay on their daemon.

// overdueMsg says that the interrupt grace of attempt wid on pipe, whose
// task was cancelled, has passed.
type overdueMsg struct {
	pipe uint32
	wid  uint64
}

// armOverdue starts the interrupt grace of attempt wid on pipe, just
// cancelled; it runs on the actor.
func (d *Dispatcher) armOverdue(pipe uint32, wid uint64) {
	grace := interruptGrace(d.cfg.interruptGrace)
	if grace < 0 || d.st.shut {
		return
	}
	if d.st.overdue == nil {
		d.st.overdue = make(map[uint64]*time.Timer)
	}
	d.st.overdue[wid] = time.AfterFunc(grace, func() { d.ref.Send(overdueMsg{pipe: pipe, wid: wid}) })
}

// disarmOverdue stops the grace of attempt wid, which has returned.
func (d *Dispatcher) disarmOverdue(wid uint64) {
	if len(d.st.overdue) == 0 {
		return
	}
	if tm := d.st.overdue[wid]; tm != nil {
		tm.Stop()
		delete(d.st.overdue, wid)
	}
}

// disarmAllOverdue stops every grace timer (at Close).
func (d *Dispatcher) disarmAllOverdue() {
	for wid, tm := range d.st.overdue {
		tm.Stop()
		delete(d.st.overdue, wid)
	}
}

// onOverdue deals with a cancelled task still on its daemon after the
// grace: a daemon process of ours is killed and replaced (its connection
// is closed and the daemon taken out of service at once, so its other
// tasks are re-queued or failed now);
// any other daemon keeps the slot busy.
func (d *Dispatcher) onOverdue(m overdueMsg) {
	st := &d.st
	delete(st.overdue, m.wid)
	dm := st.daemons[m.pipe]
	if dm == nil || dm.running[m.wid] == nil || st.shut {
		return // it returned, or its daemon is gone
	}
	t := dm.running[m.wid]
	grace := interruptGrace(d.cfg.interruptGrace)
	p := d.killProc(dm.id)
	if p == nil {
		d.log.Warn("cancelled task still running: its daemon cannot be stopped (in-process, or not launched here)",
			zap.String("task", t.name), zap.Uint64("id", t.id), zap.String("daemon", dm.id), zap.Duration("grace", grace))
		return
	}
	d.log.Warn("cancelled task still running: daemon process killed and replaced", zap.String("task", t.name),
		zap.Uint64("id", t.id), zap.String("daemon", dm.id), zap.Int("pid", p.Pid()), zap.Duration("grace", grace))
	_ = d.sock.ClosePipe(m.pipe)
	// Out of service now, as takeOver does, not when the connection's
	// removal event comes: a task submitted meanwhile (once the process is
	// seen gone) would go to the killed daemon. The event finds nothing
	// left to tear down.
	d.onPipeRemoved(m.pipe)
}

// killProc kills the live daemon process with id, started by one of the
// dispatcher's launchers, and has its launcher replace it; nil if there
// is no such process (ids are unique on a dispatcher: see nextID; two
// live processes under one id, of which the older stops once the newer
// takes the id over (takeOver), are left alone).
func (d *Dispatcher) killProc(id string) *Proc {
	d.lmu.Lock()
	ls := append([]*Launcher(nil), d.launchers...)
	d.lmu.Unlock()
	var found *Proc
	var owner *Launcher
	for _, l := range ls {
		l.mu.Lock()
		for _, p := range l.procs {
			select {
			case <-p.done:
				continue
			default:
			}
			if p.ID == id {
				if found != nil {
					l.mu.Unlock()
					return nil
				}
				found, owner = p, l
			}
		}
		l.mu.Unlock()
	}
	if found == nil {
		return nil
	}
	owner.mu.Lock()
	found.replace = !owner.shut
	owner.mu.Unlock()
	if err := found.Kill(); err != nil {
		return nil
	}
	return found
}

// noteLeft records the tasks an in-process daemon's Run left running,
// for Close to report.
func (d *Dispatcher) noteLeft(err error) {
	var lr *LeftRunningError
	if !errors.As(err, &lr) {
		return
	}
	d.lmu.Lock()
	d.left = append(d.left, lr.Tasks...)
	d.lmu.Unlock()
}

// leftRunning is Close's report of the tasks its in-process daemons left
// running, or nil.
func (d *Dispatcher) leftRunning() error {
	d.lmu.Lock()
	defer d.lmu.Unlock()
	return leftError("runner: close dispatcher", d.left, nil)
}
