package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

// Registry holds the tasks a daemon may run: Go functions under names.
// A daemon runs only what its binary registered (never code sent to it),
// so a dispatcher calls tasks by name with Serial-mode (CBOR) arguments.
// Build one registry at start-up, register every task, and hand the same
// registry to daemoncmd.Main (process daemons) and WithRegistry (in-process
// daemons).
//
// A Registry is made by NewRegistry. Lookups are safe for concurrent use
// with registrations.
type Registry struct {
	mu  sync.RWMutex
	fns map[string]taskFunc
}

// taskFunc runs one task: decode args with cd, call the function, encode
// its result with cd.
type taskFunc func(ctx context.Context, cd sockets.Codec, args []byte) ([]byte, error)

// NewRegistry returns an empty registry. It allocates one map.
func NewRegistry() *Registry { return &Registry{fns: make(map[string]taskFunc)} }

// Task is a typed handle to a registered task: its name, with the types of
// its argument and result, so that Submit and Map through it are checked by
// the compiler. The zero Task has no name; make one with Register or
// TaskNamed. A Task is a small value: copy it freely.
type Task[A, R any] struct{ name string }

// Name returns the name the task was registered under.
func (t Task[A, R]) Name() string { return t.name }

// TaskNamed returns a typed handle for a task registered elsewhere (in the
// daemons' binary) under name, for a dispatcher that does not link the
// task's code.
func TaskNamed[A, R any](name string) Task[A, R] { return Task[A, R]{name: name} }

// Register adds fn to reg under name and returns its typed handle. The
// task's argument arrives decoded from Serial mode as an A (use a struct,
// a slice or a map for several arguments); its result R is encoded back.
// fn runs on a daemon, on a goroutine of its own, with a context that ends
// when the task is cancelled (Stop on its aio, the caller's ctx), times out
// (TaskTimeout), its connection is lost or the daemon closes; fn should return
// soon after: one that does not costs its daemon process, or, in process,
// is left running (WithInterruptGrace). An error fn returns reaches the caller as a *TaskError with
// its NNG code (nanoact.CodeOf) and text; a panic, as a *TaskError
// wrapping a *rpc.PanicError, and the daemon lives on.
//
// Register is for start-up: it panics if name is empty or already taken
// in reg, or if fn or reg is nil, as a configuration error.
func Register[A, R any](reg *Registry, name string, fn func(ctx context.Context, args A) (R, error)) Task[A, R] {
	if reg == nil || fn == nil || name == "" {
		panic("runner: Register needs a registry, a name and a function")
	}
	op := "runner: task " + name
	tf := func(ctx context.Context, cd sockets.Codec, args []byte) ([]byte, error) {
		var a A
		if err := cd.Unmarshal(args, &a); err != nil {
			return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: op + ": decode arguments", Err: err}
		}
		r, err := fn(ctx, a)
		if err != nil {
			return nil, err
		}
		b, err := cd.Marshal(r)
		if err != nil {
			return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: op + ": encode result", Err: err}
		}
		return b, nil
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.fns[name]; dup {
		panic(fmt.Sprintf("runner: task %q registered twice", name))
	}
	reg.fns[name] = tf
	return Task[A, R]{name: name}
}

// Names returns the registered task names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.fns))
	for n := range r.fns {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (r *Registry) lookup(name string) taskFunc {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.fns[name]
}

// TaskError is the error of a task that failed on its daemon: it returned
// an error, panicked, or could not be run (unknown name: CodeNotFound;
// arguments that do not decode: CodeBadType). errors.Is matches it against
// the nanoact sentinel of its code (a task that returned ctx.Err() after
// its time-out matches nanoact.ErrTimedOut and context.DeadlineExceeded),
// and errors.As finds the *rpc.PanicError of a panic.
type TaskError struct {
	// Task is the task's name.
	Task string
	// Daemon is the id of the daemon that ran it.
	Daemon string
	// Code is the NNG code of the task's error: nanoact.CodeOf(err) on the
	// daemon, CodeInternal for a panic.
	Code nanoact.Code
	// Text is the task's error text (err.Error() on the daemon).
	Text string
	// Panic is set when the task panicked: the panic value as text and the
	// daemon's stack.
	Panic *rpc.PanicError
}

// Error describes the failure: "runner: task NAME on daemon ID: TEXT".
func (e *TaskError) Error() string {
	if e.Panic != nil {
		return fmt.Sprintf("runner: task %s on daemon %s: panic: %v", e.Task, e.Daemon, e.Panic.Value)
	}
	return fmt.Sprintf("runner: task %s on daemon %s: %s", e.Task, e.Daemon, e.Text)
}

// Is matches a *nanoact.Error with the same code, and context's errors
// for CodeTimedOut and CodeCanceled.
func (e *TaskError) Is(target error) bool {
	switch t := target.(type) {
	case *nanoact.Error:
		return t.Code == e.Code
	}
	switch target {
	case context.DeadlineExceeded:
		return e.Code == nanoact.CodeTimedOut
	case context.Canceled:
		return e.Code == nanoact.CodeCanceled
	}
	return false
}

// Unwrap returns the *rpc.PanicError of a panic, or nil.
func (e *TaskError) Unwrap() error {
	if e.Panic != nil {
		return e.Panic
	}
	return nil
}

// TaskOption configures one Submit (or every task of a Map). Each
// option's apply is the one place that sets it; it takes the config by
// value and returns it, so that the config stays on the caller's stack (a
// pointer through an interface call would cost an allocation per Submit).
type TaskOption interface{ apply(taskConfig) taskConfig }

type taskConfig struct {
	timeout  time.Duration
	requeue  int
	progress progressMode
	stopErr  bool
	more     taskMore // OnDaemon, Map's and Everywhere's (see everywhere.go)
}

type (
	timeoutOpt   time.Duration
	requeueOpt   int
	progressOpt  progressMode
	stopOnErrOpt bool
)

func (o timeoutOpt) apply(c taskConfig) taskConfig   { c.timeout = time.Duration(o); return c }
func (o requeueOpt) apply(c taskConfig) taskConfig   { c.requeue = int(o); return c }
func (o progressOpt) apply(c taskConfig) taskConfig  { c.progress = progressMode(o); return c }
func (o stopOnErrOpt) apply(c taskConfig) taskConfig { c.stopErr = bool(o); return c }

// taskOptions applies opts (nil ones are ignored).
func taskOptions(opts []TaskOption) taskConfig {
	var c taskConfig
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// TaskTimeout bounds a task from its submission: if it has not completed
// within d (queued time included), its aio resolves to an error matching
// nanoact.ErrTimedOut and context.DeadlineExceeded, a queued task is
// dropped, and a running one is cancelled on its daemon (its context also
// carries the deadline). Zero or negative means no limit, the default.
func TaskTimeout(d time.Duration) TaskOption { return timeoutOpt(d) }

// Requeue says what happens to a task whose daemon dies or disconnects
// while running it: it goes back to the front of the queue, at most n
// times (negative: without limit), and runs again on another daemon, the
// result of the lost attempt being discarded. The default, Requeue(0),
// fails it with an error matching nanoact.ErrConnReset and ErrMayHaveRun
// (mirai's default). A re-queued task runs at least once, not exactly
// once: the lost daemon may have done part or all of its work (a daemon
// that dies after finishing, before its result arrives), so only a task
// that is safe to run twice should be re-queued, and one with side
// effects should key them on AttemptFrom's task id. A result that did
// arrive before its daemon went always wins: such a task is neither
// re-queued nor reported lost.
func Requeue(n int) TaskOption { return requeueOpt(n) }

// Task states, owned by the dispatcher's actor.
const (
	stateNew     uint8 = iota // submitted, not yet seen by the actor
	stateQueued               // in the queue
	stateRunning              // sent to a daemon
	stateGone                 // resolved and out of the queue and the daemons
)

// task is one submission. Fields under "actor" belong to the dispatcher's
// state (under its state lock, smu); pipe, wid and daemon are written by the actor under d.mu and
// read by the reader goroutine under d.mu.
type task struct {
	name string
	// argp and nargs are the arguments, encoded (see args): a []byte
	// without its capacity, its length beside the small fields below,
	// so that the task takes 16 bytes fewer (a size class of the
	// allocator; issue 17 bounds a queued task's memory).
	argp *byte
	out  *outlet // its dispatcher and typed end, shared (see outlet)
	// watch holds the time-out (its deadline and timer), the caller's
	// context watch and the trace; nil for a task with none (most), so
	// that a queued task carries only a pointer (a queued task's size is
	// what WithMaxQueued bounds, and issue 17 bounds it).
	watch atomic.Pointer[taskWatch]

	// resolved gates the resolution: whoever sets it resolves the aio.
	resolved atomic.Bool
	// phase says whether t was ever sent to a daemon (see staged).
	phase atomic.Uint32
	held  atomic.Bool // charged to the dispatcher's admission (see unhold)

	// actor (the small fields packed together)
	state   uint8
	pin     bool   // for one daemon (OnDaemon, Everywhere): never re-queued
	setup   bool   // an Everywhere task: its daemon takes no other task until it ends
	requeue int32  // re-queues left; negative: no limit
	attempt uint32 // attempts sent so far
	nargs   uint32 // see argp; set before the task is queued
	// under d.mu
	pipe uint32
	wid  uint64
	id   uint64 // the task's id (submission index), set by enqueue
	seed uint64 // see SeedFrom
}

// args returns the task's arguments, encoded; the caller must not modify
// them.
func (t *task) args() []byte { return unsafe.Slice(t.argp, t.nargs) }

// setArgs sets the task's arguments, encoded: b is kept, not copied, and
// must never be modified after; at most maxArgs bytes.
func (t *task) setArgs(b []byte) { t.argp, t.nargs = unsafe.SliceData(b), uint32(len(b)) }

// maxArgs is the largest argument block a task holds (nargs is 32 bits);
// the frame limit (WithMaxFrame) is normally far lower.
const maxArgs = math.MaxUint32 - taskOverhead

// outlet is the dispatcher and typed end of a task: one table per
// dispatcher and result type, shared by every task of that type
// (outletFor), so that a task carries one pointer for them rather than a
// pointer and an interface (16 bytes, a size class of the allocator for a
// queued task: issue 17 bounds a queued task's memory).
type outlet struct {
	// d is the tasks' dispatcher (nil for a task submitted to none).
	d *Dispatcher
	// decode decodes a result value of t, keeping it for resolve.
	decode func(t *task, cd sockets.Codec, value []byte) error
	// resolve resolves t's aio with the decoded value, or err.
	resolve func(t *task, err error)
	// reports says that resolve only queues a report (setupOutlet's): it
	// runs no caller's code, so the reader calls it itself rather than
	// posting it to the resolver (resolveRx).
	reports bool
}

// disp is t's dispatcher, nil for a task submitted to none.
func (t *task) disp() *Dispatcher { return t.out.d }

// decode decodes a result value of t, keeping it for resolveOut.
func (t *task) decode(cd sockets.Codec, value []byte) error { return t.out.decode(t, cd, value) }

// resolveOut resolves t's aio (or, for a setup task, reports) with the
// decoded value, or err.
func (t *task) resolveOut(err error) { t.out.resolve(t, err) }

// typedTask is a task with its typed end and its aio, in one allocation
// (the aio embedded: aio.Owned, whose owner the task is). Its task comes
// first, so that its outlet's functions find the typedTask from the task
// (typedOf).
type typedTask[R any] struct {
	task
	aio.Owned[R]
	v R
}

// typedOf returns the typedTask[R] whose task t is. t must be the task of
// a typedTask[R] (its outlet is typedOutlet[R]'s): the task is its first
// field, at the same address (TestQueuedTaskLayout checks it).
func typedOf[R any](t *task) *typedTask[R] { return (*typedTask[R])(unsafe.Pointer(t)) }

// typedOutlet returns a new outlet of d for result type R; outletFor
// keeps one per type and dispatcher.
func typedOutlet[R any](d *Dispatcher) *outlet {
	return &outlet{
		d: d,
		decode: func(t *task, cd sockets.Codec, value []byte) error {
			return cd.Unmarshal(value, &typedOf[R](t).v)
		},
		resolve: func(t *task, err error) {
			tt := typedOf[R](t)
			if err != nil {
				var zero R
				tt.Resolve(zero, err)
				return
			}
			tt.Resolve(tt.v, nil)
		},
	}
}

// outletFor returns d's outlet for result type R, made on its first use
// (one allocation per type and dispatcher; then a map lookup). A nil d
// gets a new one.
func outletFor[R any](d *Dispatcher) *outlet {
	if d == nil {
		return typedOutlet[R](nil)
	}
	key := (*R)(nil) // an interface whose type is *R: one key per type
	if o, ok := d.outlets.Load(key); ok {
		return o.(*outlet)
	}
	o, _ := d.outlets.LoadOrStore(key, typedOutlet[R](d))
	return o.(*outlet)
}

// finish resolves t with err (nil: the decoded value) if nobody has; it
// reports whether this call did. It stops the time-out and the caller's
// context watch.
func (t *task) finish(err error) bool {
	if !t.take() {
		return false
	}
	t.resolveOut(err)
	return true
}

// take claims t's resolution and stops its time-out and context watch;
// it reports whether this call did, and the caller must then count the
// outcome (under the state lock, or a message to the actor) before it calls
// t.resolveOut, so that Status counts every task whose aio has resolved.
func (t *task) take() bool {
	if !t.resolved.CompareAndSwap(false, true) {
		return false
	}
	t.cleanup()
	return true
}

func (t *task) cleanup() {
	if d := t.disp(); d != nil {
		d.takeBorn(t) // WatchTasks' record of t, if any
	}
	if w := t.watch.Load(); w != nil {
		w.stop()
	}
}

// taskWatch is what ends a task from outside the dispatcher besides Stop
// (its time-out's timer and the watch on the caller's context), with the
// rarer parts of a task: its deadline and its trace.
type taskWatch struct {
	mu      sync.Mutex // guards timer and stopCtx, set while they may fire
	timer   *time.Timer
	stopCtx func() bool

	// Set before the task is queued, never changed after:
	expires int64      // monotonic ns since epoch (see now); 0: no time-out
	tr      *taskTrace // nil unless traced (see WithTracerProvider)
}

// deadline is when t times out, in monotonic ns since epoch (see now); 0
// for no time-out.
func (t *task) deadline() int64 {
	if w := t.watch.Load(); w != nil {
		return w.expires
	}
	return 0
}

// trace is t's trace, nil unless traced.
func (t *task) trace() *taskTrace {
	if w := t.watch.Load(); w != nil {
		return w.tr
	}
	return nil
}

// watcher returns t's watch, made if t has none yet. Call it only from
// the goroutine that sets t up (Submit, the actor for a setup task).
func (t *task) watcher() *taskWatch {
	w := t.watch.Load()
	if w == nil {
		w = &taskWatch{}
		t.watch.Store(w)
	}
	return w
}

// stop stops the timer and the context watch.
func (w *taskWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.stopCtx != nil {
		w.stopCtx()
	}
}

// abort ends t from outside the actor (time-out, caller's ctx): it
// resolves the aio with err and tells the actor to drop or cancel the
// task.
func (t *task) abort(err error) {
	if t.take() {
		err = t.staged(err)
		t.dropIfQueued()
		// The actor counts it before the aio resolves: the mailbox is
		// FIFO, so a Status asked after the aio resolved sees it.
		t.disp().ref.Send(cancelReq{t: t})
		t.resolveOut(err)
	}
}

// Submit queues the task registered as name with args (encoded now in
// Serial mode with the dispatcher's codec; the caller may reuse args at
// once) and returns its aio. It blocks only while the dispatcher's queue
// is full (WithMaxQueued, WithMaxQueuedBytes): then it waits for room
// until ctx ends or the task's TaskTimeout passes, and returns an aio
// already resolved with that error (the task was never queued: see
// ErrNotStarted). The aio resolves with the task's result decoded as R,
// or with an error:
//
//   - a *TaskError: the task returned an error or panicked on its daemon,
//     or no daemon has a task of that name (CodeNotFound);
//   - nanoact.ErrCanceled: Stop on the aio, or ctx was cancelled;
//   - nanoact.ErrTimedOut: TaskTimeout, or ctx's deadline, passed;
//   - nanoact.ErrConnReset: its daemon was lost mid-task (see Requeue);
//   - nanoact.ErrBadType: args could not be encoded, or the result not
//     decoded as R;
//   - nanoact.ErrClosed: the dispatcher is closed, or closed first.
//
// A cancelled, timed-out, closed or lost task's error also matches
// ErrNotStarted if the task never reached a daemon (safe to submit
// again), or ErrMayHaveRun if it did (see those).
//
// ctx bounds the task as exec.CommandContext does: if it ends before the
// task has completed, the task is dropped from the queue or cancelled on
// its daemon (a context that cannot end costs nothing). Stop on the aio
// does the same and waits until the aio has resolved. Tasks start in
// submission order on idle daemons.
//
// The aio composes like any other: Value, Wait, Collect, Race, Stop,
// OnComplete, aio.Promise, and a CV signalled from OnComplete. Callbacks
// of a task that completed on a daemon run on the dispatcher's resolver
// goroutine, which resolves the tasks' aios one at a time in result
// order: a slow callback delays the aios resolved after it (results are
// still read and counted meanwhile), and one that waits for a task
// resolved after it deadlocks. They must return quickly and never wait
// for another task, nor call Submit on a dispatcher whose queue may be
// full (use TrySubmit there). Hand slow work to aio.Promise (its
// continuations run on a promises Loop) or a goroutine of your own.
//
// Cost: 9 allocations per task in all, both ends and the sockets
// included, and no message through the dispatcher's actor (Submit takes
// its state lock); see the package doc for throughput.
func Submit[R any](ctx context.Context, d *Dispatcher, name string, args any, opts ...TaskOption) *aio.Aio[R] {
	return submit[R](ctx, d, name, args, true, opts)
}

// TrySubmit is Submit that never blocks: when the dispatcher's queue is
// full (WithMaxQueued, WithMaxQueuedBytes) the aio it returns is already
// resolved with an error matching nanoact.ErrTryAgain and ErrNotStarted.
func TrySubmit[R any](ctx context.Context, d *Dispatcher, name string, args any, opts ...TaskOption) *aio.Aio[R] {
	return submit[R](ctx, d, name, args, false, opts)
}

func submit[R any](ctx context.Context, d *Dispatcher, name string, args any, wait bool, opts []TaskOption) *aio.Aio[R] {
	var cfg taskConfig
	if len(opts) > 0 {
		cfg = taskOptions(opts)
	}
	return submitWith[R](ctx, d, name, args, wait, cfg)
}

// submitWith is submit with its options applied: Map and Everywhere set
// cfg.more themselves.
func submitWith[R any](ctx context.Context, d *Dispatcher, name string, args any, wait bool, cfg taskConfig) *aio.Aio[R] {
	tt := &typedTask[R]{}
	t := &tt.task
	t.name, t.requeue, t.out = name, int32(max(min(cfg.requeue, 1<<30), -1)), outletFor[R](d)
	a := tt.Init(tt)
	switch {
	case d == nil:
		t.finish(nanoact.Errorf(nanoact.CodeInvalid, "runner: submit "+name, "nil dispatcher"))
		return a
	case name == "":
		t.finish(nanoact.Errorf(nanoact.CodeInvalid, "runner: submit", "empty task name"))
		return a
	case ctx.Err() != nil:
		t.finish(notStarted(nanoact.FromContext(ctx, "runner: task "+name)))
		return a
	}
	b, err := d.codec.Marshal(args)
	if err != nil {
		t.finish(&nanoact.Error{Code: nanoact.CodeBadType, Op: "runner: task " + name + ": encode arguments", Err: err})
		return a
	}
	if n := len(b) + len(name) + taskOverhead; n > d.cfg.maxFrame || len(b) > maxArgs {
		t.finish(nanoact.Errorf(nanoact.CodeMsgSize, "runner: task "+name,
			"arguments of %d bytes exceed the %d-byte frame limit (WithMaxFrame)", len(b), d.cfg.maxFrame))
		return a
	}
	t.setArgs(b)
	traceTask(ctx, d, t, a)
	cfg.more.place(d, t)
	if cfg.timeout > 0 {
		t.watcher().expires = now() + int64(cfg.timeout)
	}
	if d.adm.bounded() {
		if wait {
			err = d.adm.take(ctx, d.life, cfg.timeout, int64(len(b)), name)
		} else if !d.adm.tryTake(int64(len(b))) {
			err = &nanoact.Error{Code: nanoact.CodeTryAgain, Op: "runner: task " + name, Err: errQueueFull}
		}
		if err != nil {
			t.finish(notStarted(err))
			return a
		}
		t.held.Store(true)
	}
	if cfg.timeout > 0 || ctx.Done() != nil {
		w := t.watcher()
		w.mu.Lock()
		if cfg.timeout > 0 {
			w.timer = time.AfterFunc(time.Duration(w.expires-now()), func() { t.abort(timeoutError(name)) })
		}
		if ctx.Done() != nil {
			w.stopCtx = context.AfterFunc(ctx, func() { t.abort(nanoact.FromContext(ctx, "runner: task "+name)) })
		}
		w.mu.Unlock()
	}
	if !d.enqueueTo(t, &cfg.more) {
		d.unhold(t)
		t.finish(notStarted(&nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: task " + name}))
	}
	return a
}

var errQueueFull = errors.New("the dispatcher's queue is full (WithMaxQueued, WithMaxQueuedBytes)")

// Stopped makes the task its aio's aio.Owner: Stop resolves the aio with
// err (ErrCanceled), wrapped with what it says of the task's start, once
// it returns; the actor drops or cancels the task.
func (t *task) Stopped(err error) error {
	if t.resolved.CompareAndSwap(false, true) {
		t.cleanup()
		t.dropIfQueued()
		if d := t.disp(); d != nil {
			d.ref.Send(cancelReq{t: t})
		}
	}
	return t.staged(err)
}

// Submit queues the task with a typed argument; see the package-level
// Submit.
func (t Task[A, R]) Submit(ctx context.Context, d *Dispatcher, args A, opts ...TaskOption) *aio.Aio[R] {
	return submit[R](ctx, d, t.name, args, true, opts)
}

// TrySubmit queues the task with a typed argument without blocking; see
// the package-level TrySubmit.
func (t Task[A, R]) TrySubmit(ctx context.Context, d *Dispatcher, args A, opts ...TaskOption) *aio.Aio[R] {
	return submit[R](ctx, d, t.name, args, false, opts)
}

// resultError turns a failed result frame into the caller's error.
func resultError(name, daemon string, f *frame) error {
	if f.panic {
		return &TaskError{Task: name, Daemon: daemon, Code: nanoact.CodeInternal, Text: f.text,
			Panic: &rpc.PanicError{Value: f.text, Stack: []byte(f.stack)}}
	}
	code := nanoact.Code(f.code)
	if f.code > uint64(^uint32(0)) || code == nanoact.CodeOK {
		code = nanoact.CodeInternal
	}
	return &TaskError{Task: name, Daemon: daemon, Code: code, Text: f.text}
}

func timeoutError(name string) error {
	return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "runner: task " + name, Err: context.DeadlineExceeded}
}

// taskOverhead bounds what a task message adds to its name and
// arguments: the array, kind, id, two string heads, the time-out, the
// task id, the attempt and the seed (61 bytes at most).
const taskOverhead = 64

var errConnReset = errors.New("daemon lost while running the task")

// epoch is the origin of now: task deadlines are monotonic nanoseconds
// since it, 8 bytes a task instead of a time.Time's 24.
var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }
