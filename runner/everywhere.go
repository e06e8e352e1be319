package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// Tasks for one daemon: OnDaemon sends a task to a chosen daemon, and
// Everywhere runs one on every daemon (mirai's everywhere()), optionally
// on every daemon that joins later too. Such a task waits in its daemon's
// own queue, served before the shared one; an Everywhere task also holds
// its daemon back from other tasks until it has ended, so that setup
// (loading a model, opening a connection) comes before the work.

// taskMore is the part of a task's options that Submit's fast path does
// not look at: OnDaemon, Everywhere's and Map's.
type taskMore struct {
	pin       string // OnDaemon, Everywhere: the daemon's id
	pinPipe   uint32 // Everywhere: its connection (0: look it up by id)
	setup     bool   // an Everywhere task
	stream    uint64 // the seed stream (see seed.go), if streamSet
	item      uint64
	streamSet bool
	minN      int               // MinDaemons
	join      *JoinHandle       // OnJoin
	progress  func(MapProgress) // ProgressFunc
}

// place gives t its seed and, for OnDaemon, its daemon.
func (m *taskMore) place(d *Dispatcher, t *task) {
	if !m.streamSet {
		m.stream = d.streams.Add(1)
	}
	t.seed = deriveSeed(d.cfg.seed, m.stream, m.item)
	if m.pin != "" {
		t.pin, t.requeue, t.setup = true, 0, m.setup
	}
}

type (
	onDaemonOpt   string
	minDaemonsOpt int
)

func (o onDaemonOpt) apply(c taskConfig) taskConfig   { c.more.pin = string(o); return c }
func (o minDaemonsOpt) apply(c taskConfig) taskConfig { c.more.minN = int(o); return c }

// OnDaemon sends the task to the daemon whose id is id (DaemonStatus.ID:
// WithDaemonID, launch-N, local-N) instead of the first idle one. It
// waits in that daemon's own queue, which the daemon serves before the
// shared one. If no daemon of that id is connected when the dispatcher
// takes the task (or it is leaving), the task fails at once with an
// error matching nanoact.ErrNotFound and ErrNotStarted; if the daemon
// goes before the task starts, with nanoact.ErrConnReset and
// ErrNotStarted; if it is lost while running the task, as any task (the
// task is never re-queued elsewhere: Requeue is ignored). With Map, every
// task goes to that daemon. A lookup by id costs a pass over the daemons.
func OnDaemon(id string) TaskOption { return onDaemonOpt(id) }

// MinDaemons makes Everywhere wait, under its ctx, until at least n
// daemons have joined before it runs (mirai's .min), a synchronisation
// point for remote daemons that take time to connect. Others ignore it.
func MinDaemons(n int) TaskOption { return minDaemonsOpt(n) }

// OnJoin makes Everywhere also run its task on every daemon that joins
// afterwards, until the returned handle's Stop or the dispatcher's Close:
// a daemon started later,
// a process that a launcher restarts (WithRestart), a daemon that
// reconnects after losing its connection (so the task should be safe to
// run twice on one daemon). Such a daemon runs it before any other task
// (OnDaemon's aside), under the same TaskTimeout; report (may be nil) is
// then called with the daemon's id and the task's error (nil: it
// succeeded; its value is dropped). The reports run one at a time, in
// order, on a goroutine of the dispatcher's that runs nothing else (never
// its reader, nor the resolver that runs task aios' callbacks): a slow
// report delays only the reports after it, a slow aio callback delays no
// report, and a report may submit and wait for tasks, or call Stop. A panic in report is recovered
// and logged at Error. The dispatcher's Close waits for the reports
// already queued. Others ignore it.
//
// The returned handle is the option (pass it to Everywhere) and the way
// to end the registration: Stop. Each Everywhere given it registers the
// task once, and Stop ends every registration made with it.
func OnJoin(report func(daemon string, err error)) *JoinHandle {
	return &JoinHandle{report: report}
}

// JoinHandle is an OnJoin registration: a TaskOption for Everywhere, and
// Stop to unregister. Its methods are safe for concurrent use.
type JoinHandle struct {
	report  func(daemon string, err error)
	mu      sync.Mutex
	stopped bool
	regs    []joinReg
}

// joinReg is one Everywhere's registration of a JoinHandle.
type joinReg struct {
	d  *Dispatcher
	js *joinSetup
}

func (h *JoinHandle) apply(c taskConfig) taskConfig { c.more.join = h; return c }

// register records js on d, unless h has been stopped; it runs on d's
// actor (under the state lock), which appends js to the joins if true.
func (h *JoinHandle) register(d *Dispatcher, js *joinSetup) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	h.regs = append(h.regs, joinReg{d, js})
	return true
}

// Stop ends h's registrations (as context.AfterFunc's stop does): once it
// has returned, no daemon that joins runs the task for them, and the runs
// queued on daemons that joined earlier and not yet started are dropped
// (counted as cancelled in Status; report is not called for them). Runs
// already started go on, and report is called when they end. An
// Everywhere given h after Stop runs on the daemons connected but
// registers nothing. Stop reports whether it ended a registration: false
// if there was none (Everywhere was not called with h, or failed first)
// or Stop was called before. It blocks only on the state lock of each
// dispatcher h is registered with (a pass over its daemons' own queues);
// it may be called from report.
func (h *JoinHandle) Stop() bool {
	h.mu.Lock()
	regs := h.regs
	first := !h.stopped
	h.stopped, h.regs = true, nil
	h.mu.Unlock()
	stopped := false
	for _, r := range regs {
		if r.d.unjoin(r.js) {
			stopped = true
		}
	}
	return first && stopped
}

// DaemonResult is what one daemon made of an Everywhere task: its value,
// or its error.
type DaemonResult[R any] struct {
	Value R
	Err   error
}

// EverywhereError is the error of an Everywhere whose task failed on some
// daemons: Errs holds each failure by daemon id. errors.Is and errors.As
// look through every failure.
type EverywhereError struct {
	Task    string
	Daemons int // how many daemons it ran on
	Errs    map[string]error
}

// Error says how many daemons failed and gives the first (by id).
func (e *EverywhereError) Error() string {
	ids := e.ids()
	if len(ids) == 0 {
		return fmt.Sprintf("runner: everywhere %s: no failure", e.Task)
	}
	return fmt.Sprintf("runner: everywhere %s: failed on %d of %d daemons; %s: %v", e.Task, len(ids), e.Daemons, ids[0], e.Errs[ids[0]])
}

// Unwrap returns the failures, by daemon id, for errors.Is and errors.As.
func (e *EverywhereError) Unwrap() []error {
	out := make([]error, 0, len(e.Errs))
	for _, id := range e.ids() {
		out = append(out, e.Errs[id])
	}
	return out
}

func (e *EverywhereError) ids() []string {
	ids := make([]string, 0, len(e.Errs))
	for id := range e.Errs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Everywhere runs the task registered as name, with args, once on every
// daemon connected (mirai's everywhere()): setup such as loading a model
// or opening a connection. It blocks until every one has answered and
// returns each daemon's result by its id. If the task failed on any, the
// error is an *EverywhereError with every failure (the map holds them
// too). With no daemon connected it returns an empty map and nil (see
// MinDaemons and OnJoin).
//
// Each daemon runs the task before any task queued for it after this
// call, and takes no other task until it has ended (so setup comes before
// work; tasks it is running already go on). opts: TaskTimeout bounds each
// daemon's run; MinDaemons waits for daemons first; OnJoin runs the task
// on daemons that join later too. Requeue is ignored: a daemon lost
// mid-task gives ErrConnReset for its id. ctx bounds the whole call:
// when it ends, the runs not finished are cancelled. Each run is a task:
// counted by Status, with an id (AttemptFrom) and a seed derived from
// the daemon's id (SeedFrom).
//
// Errors, besides the per-daemon ones: ErrInvalid (nil dispatcher, empty
// name), ErrClosed, ctx's while waiting (ErrTimedOut, ErrCanceled), and
// ErrBadType if args cannot be encoded. Cost: one Submit per daemon and
// a pass over the daemons on the dispatcher's actor.
func Everywhere[R any](ctx context.Context, d *Dispatcher, name string, args any, opts ...TaskOption) (map[string]DaemonResult[R], error) {
	cfg := taskOptions(opts)
	op := "runner: everywhere " + name
	if d == nil || name == "" {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "nil dispatcher or empty task name")
	}
	if cfg.more.minN > 0 {
		if err := d.WaitDaemons(ctx, cfg.more.minN); err != nil {
			return nil, err
		}
	}
	var js *joinSetup
	if h := cfg.more.join; h != nil {
		b, err := d.codec.Marshal(args)
		if err != nil {
			return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: op + ": encode arguments", Err: err}
		}
		js = &joinSetup{name: name, args: b, timeout: cfg.timeout, report: h.report}
	}
	type target struct {
		id    string
		pipe  uint32
		order int
	}
	var targets []target
	shut := false
	err := d.ref.Call(ctx, func() {
		if shut = d.st.shut; shut {
			return
		}
		for _, dm := range d.st.daemons {
			if pinnable(dm) {
				targets = append(targets, target{dm.id, dm.pipe, dm.order})
			}
		}
		if js != nil && cfg.more.join.register(d, js) {
			d.every.joins = append(d.every.joins, js)
		}
	})
	if shut || errors.Is(err, nanoact.ErrClosed) {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(targets, func(a, b target) int { return cmp.Compare(a.order, b.order) })
	out := make(map[string]DaemonResult[R], len(targets))
	type run struct {
		id  string
		res *aio.Aio[R]
	}
	runs := make([]run, 0, len(targets))
	for _, tg := range targets {
		if _, dup := out[tg.id]; dup {
			continue // two daemons under one id: the first runs it
		}
		out[tg.id] = DaemonResult[R]{}
		c := cfg
		c.more = taskMore{pin: tg.id, pinPipe: tg.pipe, setup: true, item: idItem(tg.id), streamSet: true}
		runs = append(runs, run{tg.id, submitWith[R](ctx, d, name, args, true, c)})
	}
	var ee *EverywhereError
	for _, r := range runs {
		v, err := r.res.Value(context.Background()) // bounded: ctx and TaskTimeout cancel the tasks
		out[r.id] = DaemonResult[R]{Value: v, Err: err}
		if err != nil {
			if ee == nil {
				ee = &EverywhereError{Task: name, Daemons: len(runs), Errs: make(map[string]error)}
			}
			ee.Errs[r.id] = err
		}
	}
	if ee != nil {
		return out, ee
	}
	return out, nil
}

// Everywhere runs the task on every daemon; see the package-level
// Everywhere.
func (t Task[A, R]) Everywhere(ctx context.Context, d *Dispatcher, args A, opts ...TaskOption) (map[string]DaemonResult[R], error) {
	return Everywhere[R](ctx, d, t.name, args, opts...)
}

// pinnable reports whether dm may be given tasks of its own.
func pinnable(dm *daemonConn) bool { return !dm.leaving && !dm.byeSent && dm.remaining != 0 }

// everywhereState is the dispatcher's Everywhere tasks to run on daemons
// that join (OnJoin), owned by the actor, and the queue of their reports.
type everywhereState struct {
	joins []*joinSetup
	// reports runs OnJoin reports one at a time, in order, on a
	// goroutine of its own (a workQueue), never on the dispatcher's
	// reader, actor or resolver: a slow report delays only the reports
	// after it, not the results of other tasks, and may wait for a task.
	// The dispatcher's Close waits for those queued.
	reports workQueue
}

// joinSetup is one Everywhere task with OnJoin.
type joinSetup struct {
	name    string
	args    []byte // encoded
	timeout time.Duration
	report  func(daemon string, err error)
}

// setupTask is a joinSetup's run on one daemon: its value is dropped and
// its outcome reported.
type setupTask struct {
	task
	daemon string
	report func(daemon string, err error)
	js     *joinSetup // its registration, for unjoin
}

// setupKey is the key of d's setupTask outlet in d.outlets.
type setupKey struct{}

// setupOutlet returns d's outlet of setupTasks, made on its first use: no
// value to decode; the outcome goes to the task's report.
func (d *Dispatcher) setupOutlet() *outlet {
	if o, ok := d.outlets.Load(setupKey{}); ok {
		return o.(*outlet)
	}
	o, _ := d.outlets.LoadOrStore(setupKey{}, &outlet{
		d:      d,
		decode: func(*task, sockets.Codec, []byte) error { return nil },
		resolve: func(t *task, err error) {
			// t is a setupTask's first field, at the same address (see
			// typedOf).
			s := (*setupTask)(unsafe.Pointer(t))
			// The outcome goes to report off the goroutine that resolves
			// the task: the reader, for a result (resolveRx), the actor,
			// a time-out's timer.
			if report, id := s.report, s.daemon; report != nil {
				d.every.reports.post(job{fn: func() { report(id, err) }})
			}
		},
		reports: true,
	})
	return o.(*outlet)
}

// pinnedSubmit is a task for one daemon, to the actor.
type pinnedSubmit struct {
	t      *task
	daemon string
	pipe   uint32 // 0: look the daemon up by id
}

// enqueueTo hands t to the actor, for its daemon if OnDaemon or
// Everywhere chose one; false once the dispatcher is closed.
func (d *Dispatcher) enqueueTo(t *task, m *taskMore) bool {
	if m.pin == "" {
		return d.enqueue(t)
	}
	d.closeMu.RLock()
	defer d.closeMu.RUnlock()
	if d.closed {
		return false
	}
	t.id = d.seq.Add(1)
	d.ref.Send(pinnedSubmit{t: t, daemon: m.pin, pipe: m.pinPipe})
	return true
}

// onPinned queues a task for one daemon, or fails it if that daemon is
// not there.
func (d *Dispatcher) onPinned(m pinnedSubmit) {
	st := &d.st
	t := m.t
	if t.state != stateNew || st.shut {
		d.onSubmit(t) // drops it
		return
	}
	dm := d.pinTarget(m.daemon, m.pipe)
	if dm == nil {
		t.state = stateGone
		d.unhold(t)
		if t.take() {
			st.failed++
			d.resolveLater(t, t.staged(&nanoact.Error{Code: nanoact.CodeNotFound, Op: "runner: task " + t.name,
				Err: fmt.Errorf("no daemon %q connected", m.daemon)}))
		}
		return
	}
	t.state = stateQueued
	dm.pinned.pushBack(t)
	st.queued++
	if t.setup {
		dm.setups++
	}
	d.pumpPinned(dm)
}

// pinTarget finds the daemon of a pinned task: by connection if known,
// else the first joined under id.
func (d *Dispatcher) pinTarget(id string, pipe uint32) *daemonConn {
	if dm := d.st.daemons[pipe]; pipe != 0 && dm != nil && dm.id == id && pinnable(dm) {
		return dm
	}
	var found *daemonConn
	for _, dm := range d.st.daemons {
		if dm.id == id && pinnable(dm) && (found == nil || dm.order < found.order) {
			found = dm
		}
	}
	return found
}

// pumpPinned sends dm the tasks of its own queue while it has room.
func (d *Dispatcher) pumpPinned(dm *daemonConn) {
	st := &d.st
	for dm.pinned.n > 0 && st.daemons[dm.pipe] == dm && !dm.leaving && !dm.full && dm.busy < dm.max && dm.remaining != 0 {
		t, _ := dm.pinned.popFront()
		if t.state == stateQueued && t.resolved.Load() {
			// Resolved by its time-out or caller: its cancelReq counts it.
			t.state = stateGone
			st.queued--
			d.unhold(t)
		}
		if t.state == stateQueued && !d.send(dm, t) {
			return
		}
		if t.state == stateGone && t.setup {
			dm.setups-- // ended without running
		}
	}
}

// setupDone is called by onDone for a task that ended on dm.
func (d *Dispatcher) setupDone(dm *daemonConn, t *task) {
	if t.setup {
		dm.setups--
	}
	d.pumpPinned(dm)
}

// replaySetups queues the OnJoin tasks for dm, which has just joined.
func (d *Dispatcher) replaySetups(dm *daemonConn) {
	st := &d.st
	for _, js := range d.every.joins {
		tt := &setupTask{daemon: dm.id, report: js.report, js: js}
		t := &tt.task
		t.name, t.out, t.pin, t.setup = js.name, d.setupOutlet(), true, true
		t.setArgs(js.args)
		t.id = d.seq.Add(1)
		t.seed = deriveSeed(d.cfg.seed, 0, idItem(dm.id))
		if js.timeout > 0 {
			w := t.watcher()
			w.expires = now() + int64(js.timeout)
			w.mu.Lock()
			w.timer = time.AfterFunc(js.timeout, func() { t.abort(timeoutError(t.name)) })
			w.mu.Unlock()
		}
		t.state = stateQueued
		dm.pinned.pushBack(t)
		st.queued++
		dm.setups++
	}
	d.pumpPinned(dm)
}

// unjoin removes OnJoin registration js (JoinHandle.Stop) and drops its
// runs still queued on daemons, under the state lock; false if js was
// not registered.
func (d *Dispatcher) unjoin(js *joinSetup) bool {
	d.smu.Lock()
	defer d.unlockState()
	i := slices.Index(d.every.joins, js)
	if i < 0 {
		return false
	}
	d.every.joins = slices.Delete(d.every.joins, i, i+1)
	setups := d.setupOutlet()
	for _, dm := range d.st.daemons {
		dropped := false
		dm.pinned.removeFunc(func(t *task) bool {
			if t.out != setups {
				return false
			}
			// t is a setupTask's first field, at the same address.
			tt := (*setupTask)(unsafe.Pointer(t))
			if tt.js != js || t.state != stateQueued || !t.take() {
				return false
			}
			d.onCancel(t) // counted; no longer queued
			dm.setups--
			dropped = true
			return true
		})
		if dropped {
			d.makeReady(dm, false)
		}
	}
	d.pump()
	return true
}

// dropPinned ends the tasks still queued for dm, which has gone
// (ErrConnReset) or is closing (ErrClosed): none of them started.
func (d *Dispatcher) dropPinned(dm *daemonConn, closing bool) {
	st := &d.st
	dm.pinned.each(func(t *task) {
		if t.state != stateQueued {
			return
		}
		t.state = stateGone
		if !closing {
			st.queued-- // shutdown zeroes the count itself
		}
		d.unhold(t)
		if !t.take() {
			return
		}
		var err error
		if closing {
			st.canceled++
			err = &nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: task " + t.name}
		} else {
			st.failed++
			err = &nanoact.Error{Code: nanoact.CodeConnReset, Op: "runner: task " + t.name + " on daemon " + dm.id, Err: errPinnedGone}
		}
		d.resolveLater(t, t.staged(err))
	})
	dm.pinned.clear()
	dm.setups = 0
}

var errPinnedGone = errors.New("its daemon went before the task started")
