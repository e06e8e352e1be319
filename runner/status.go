package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nanoact/nanoact"
)

// Status describes a dispatcher at one instant (mirai's status()).
type Status struct {
	// URLs are the dispatcher's listeners.
	URLs []string
	// Connections is the number of daemons joined and connected;
	// Connecting, those connected that have not said hello yet.
	Connections, Connecting int
	// Queued tasks wait for a daemon; Executing ones run on one
	// (cancelled tasks whose daemon has not finished them included).
	Queued, Executing int
	// Submitted counts every Submit; Completed the tasks that returned a
	// value, Failed those that returned an error, panicked or lost their
	// daemon, Canceled those stopped, timed out or ended by their ctx
	// (including at Close).
	Submitted, Completed, Failed, Canceled int64
	// Requeued counts re-queued attempts (Requeue), Lost the daemons that
	// disconnected mid-task, Refused the connections refused (a hello of
	// another version or whose proof of the token fails, or a message
	// other than hello before it), Silent those closed for saying no hello
	// in time (WithHelloTimeout), Oversize those closed for a message over
	// the limit (4 KiB before the hello, WithMaxFrame after): the socket's
	// "oversize" statistic, each also logged once at Warn by the socket.
	Requeued, Lost, Refused, Silent, Oversize int64
	// Replaced counts the connections refused and closed because a newer
	// one, its hello authenticated, joined under the same daemon id (a
	// daemon that redialed while its old connection was still half-open
	// here, or two daemons started with one id, the older of which then
	// stops; see the package doc, "Daemon ids"). They are not counted in
	// Refused.
	Replaced int64
	// Daemons lists the connected daemons in the order they joined, then
	// the last 64 that left.
	Daemons []DaemonStatus
}

// DaemonStatus describes one daemon.
type DaemonStatus struct {
	// ID is the daemon's id (WithDaemonID; for launched processes launch-N,
	// for in-process daemons local-N).
	ID string
	// Pipe is the id of its connection on the dispatcher's socket.
	Pipe uint32
	// Online is false for a daemon that has left; its counters are those
	// at its departure.
	Online bool
	// Max is how many tasks it runs at once; Executing how many it runs.
	Max, Executing int
	// Completed and Failed count the tasks it finished with a value and
	// with an error.
	Completed, Failed int64
	// Joined is when its hello was accepted, Left when its connection
	// went away (zero while online).
	Joined, Left time.Time
}

// String renders the status as a table: the totals, then one row per
// daemon (mirai's status() print).
func (s Status) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connections %d  connecting %d  queued %d  executing %d\n", s.Connections, s.Connecting, s.Queued, s.Executing)
	fmt.Fprintf(&b, "submitted %d  completed %d  failed %d  canceled %d  requeued %d  lost %d  replaced %d  refused %d  silent %d  oversize %d\n",
		s.Submitted, s.Completed, s.Failed, s.Canceled, s.Requeued, s.Lost, s.Replaced, s.Refused, s.Silent, s.Oversize)
	if len(s.Daemons) == 0 {
		return b.String()
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "daemon\tonline\tmax\texecuting\tcompleted\tfailed\tup\t")
	for _, d := range s.Daemons {
		end := d.Left
		if d.Online || end.IsZero() {
			end = time.Now()
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\t%d\t%d\t%v\t\n", d.ID, d.Online, d.Max, d.Executing, d.Completed, d.Failed,
			end.Sub(d.Joined).Round(time.Millisecond))
	}
	_ = tw.Flush()
	return b.String()
}

func (dm *daemonConn) status(online bool) DaemonStatus {
	return DaemonStatus{ID: dm.id, Pipe: dm.pipe, Online: online, Max: dm.max, Executing: dm.busy,
		Completed: dm.completed, Failed: dm.failed, Joined: dm.joined}
}

// snapshot runs on the actor, with the state lock held.
func (d *Dispatcher) snapshot() Status {
	st := &d.st
	s := Status{URLs: d.URLs(), Connections: len(st.daemons), Connecting: len(st.waiting), Queued: st.queued,
		Submitted: int64(d.seq.Load()), Completed: st.completed, Failed: st.failed, Canceled: st.canceled,
		Requeued: st.requeued, Lost: st.lost, Refused: st.refusedN, Silent: st.helloLate, Replaced: st.replaced}
	s.Oversize, _ = d.sock.Stat("oversize")
	live := make([]*daemonConn, 0, len(st.daemons))
	for _, dm := range st.daemons {
		live = append(live, dm)
	}
	slices.SortFunc(live, func(a, b *daemonConn) int { return a.order - b.order })
	for _, dm := range live {
		s.Executing += dm.busy
		s.Daemons = append(s.Daemons, dm.status(true))
	}
	s.Daemons = append(s.Daemons, st.departed...)
	return s
}

// Status returns the dispatcher's counters and daemons. It asks the actor
// (about 2 µs plus a pass over the daemons) and blocks until it answers or
// ctx ends (then ErrTimedOut or ErrCanceled). After Close it returns the
// status at Close. Every task whose aio has resolved is counted.
func (d *Dispatcher) Status(ctx context.Context) (Status, error) {
	var s Status
	err := d.ref.Call(ctx, func() { s = d.snapshot() })
	if errors.Is(err, nanoact.ErrClosed) {
		// The actor has stopped: Close has recorded the final status.
		select {
		case <-d.finalSet:
			return d.final, nil
		case <-ctx.Done():
			return Status{}, nanoact.FromContext(ctx, "runner: status")
		}
	}
	return s, err
}

// TaskDone describes a task that a daemon finished, for WatchTasks.
type TaskDone struct {
	// Name is the task's name.
	Name string
	// Pipe is the connection of the daemon that ran it (DaemonStatus.Pipe).
	Pipe uint32
	// OK is true when the task returned a value, false when it failed or
	// timed out on its daemon.
	OK bool
	// Latency is the time from Submit (or Map's submission of the
	// element) to the result's arrival, queueing included.
	Latency time.Duration
}

// WatchTasks calls fn for every task that a daemon finishes (its result
// resolves the task) among those submitted while fn is registered: the
// hook of latency histograms (package metrics) and dashboards. fn runs on
// the dispatcher's reader (the goroutine of the connection the result
// came on) before the task's aio resolves, one call at a time: it must be
// quick and must not block or call the dispatcher (a slow fn delays every
// result read on that connection). Tasks cancelled, lost or failed before a result came are
// not reported (Status counts them).
//
// Cost: with no watcher, an atomic load at Submit and two at the end of
// each task, and no memory (a queued task stays its size); with one, a
// clock read at each end, a map insert and delete under a mutex (the
// submission times live beside the tasks, not in them), and the call.
// The returned stop function unregisters fn (idempotent); a call in
// progress may finish after it.
func (d *Dispatcher) WatchTasks(fn func(TaskDone)) (stop func()) { return d.tasksDone.Add(fn) }

// markBorn records t's submission time while WatchTasks has a watcher.
func (d *Dispatcher) markBorn(t *task) {
	if !d.tasksDone.On() {
		return
	}
	n := now()
	d.bornMu.Lock()
	if d.born == nil {
		d.born = make(map[*task]int64)
	}
	d.born[t] = n
	d.bornN.Store(int64(len(d.born)))
	d.bornMu.Unlock()
	if t.resolved.Load() {
		// Resolved meanwhile (its ctx ended): its cleanup may have run
		// before the record existed. Resolution sets resolved before
		// cleanup, so one of the two removes it.
		d.takeBorn(t)
	}
}

// takeBorn removes t's submission time and returns it (0 if there is
// none): one atomic load while nothing is recorded.
func (d *Dispatcher) takeBorn(t *task) int64 {
	if d.bornN.Load() == 0 {
		return 0
	}
	d.bornMu.Lock()
	defer d.bornMu.Unlock()
	b, ok := d.born[t]
	if ok {
		delete(d.born, t)
		d.bornN.Store(int64(len(d.born)))
	}
	return b
}
