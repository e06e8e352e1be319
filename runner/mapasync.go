package runner

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/nanoact/nanoact/aio"
)

// MapProgress is one step of a Map or MapAsync, given to ProgressFunc's
// callback: input Index has just completed.
type MapProgress struct {
	// Index is the input that completed; Err its task's error (nil: it
	// returned a value).
	Index int
	Err   error
	// Done counts the inputs completed so far (this one included), Failed
	// those of them that failed, Total all the map's inputs.
	Done, Failed, Total int
}

type progressFuncOpt func(MapProgress)

func (o progressFuncOpt) apply(c taskConfig) taskConfig { c.more.progress = o; return c }

// ProgressFunc makes Map and MapAsync call fn once per input as it
// completes, in completion order, with the counts so far: a per-item
// progress report for a user interface or a log. The calls are made one
// at a time, from the goroutine that runs the map (MapAsync's aio, or
// Map's caller), never from the dispatcher's: fn may take its time (the
// map's result waits for it). Submit ignores it.
func ProgressFunc(fn func(MapProgress)) TaskOption { return progressFuncOpt(fn) }

// MapAsync is Map that does not block: it returns at once an aio of the
// results in input order, which resolves once every task has completed,
// with the same values and *MapError as Map (aio.Value gives both). The
// map's tasks are submitted by the aio's goroutine, which waits for room
// when the dispatcher's queue is full, and reports each completion to
// ProgressFunc and Progress/ProgressTo. Stop on the aio cancels every task
// not yet finished (as ctx's end and StopOnError do) and returns once the
// aio has resolved, with the results so far and a *MapError whose other
// entries match nanoact.ErrCanceled. The aio composes like a task's:
// Value, Wait, OnComplete, aio.Promise, CVs.
//
// Cost: Map's, plus one goroutine for the aio (none if a waiter with a
// ctx that cannot end, such as Map's, runs it).
func MapAsync[A, R any](ctx context.Context, d *Dispatcher, name string, inputs []A, opts ...TaskOption) *aio.Aio[[]R] {
	cfg := taskOptions(opts)
	return aio.Go(func(actx context.Context) ([]R, error) {
		return runMap[A, R](ctx, actx, d, name, inputs, cfg)
	})
}

// MapAsync runs the task over inputs without blocking; see the
// package-level MapAsync.
func (t Task[A, R]) MapAsync(ctx context.Context, d *Dispatcher, inputs []A, opts ...TaskOption) *aio.Aio[[]R] {
	return MapAsync[A, R](ctx, d, t.name, inputs, opts...)
}

// runMap runs a map to its end: ctx is the caller's, actx the aio's
// (Stop cancels it).
func runMap[A, R any](ctx, actx context.Context, d *Dispatcher, name string, inputs []A, cfg taskConfig) ([]R, error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	n := len(inputs)
	as := make([]*aio.Aio[R], n)
	var (
		mu        sync.Mutex // guards stopped, submitted and as[:submitted] for halt
		stopped   bool
		submitted int
	)
	// halt stops the inputs not yet finished, the last submitted first, then
	// cancels ctx: a queued input is resolved (and so never sent) before a
	// running one is cancelled and frees its daemon's slot. Cancelling ctx
	// alone would race: each task's context watch runs on a goroutine of
	// its own, in no set order.
	halt := func() {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		stopped = true
		k := submitted
		mu.Unlock()
		for i := k - 1; i >= 0; i-- {
			as[i].Stop()
		}
		stop()
	}
	unwatch := context.AfterFunc(actx, halt)
	defer unwatch()
	bar := newBar(cfg.progress, n, name)
	report := cfg.more.progress
	var stream uint64
	if d != nil {
		stream = d.streams.Add(1) // the map's seed stream: its inputs are its items
	}
	done := make(chan int, n) // never blocks: one send per input
	first := atomic.Int64{}
	first.Store(-1)
	var finished, failed int
	step := func(i int) {
		finished++
		_, err := as[i].Result()
		if err != nil {
			failed++
		}
		if bar != nil {
			_ = bar.Add(1)
		}
		if report != nil {
			report(MapProgress{Index: i, Err: err, Done: finished, Failed: failed, Total: n})
		}
	}
	for i, in := range inputs {
		c := cfg
		c.more.stream, c.more.item, c.more.streamSet = stream, uint64(i+1), true
		a := submitWith[R](ctx, d, name, in, true, c)
		mu.Lock()
		as[i], submitted = a, i+1
		late := stopped // halted while a was being submitted: halt missed it
		mu.Unlock()
		if late {
			a.Stop()
		}
		a.OnComplete(func(_ R, err error) {
			if err != nil && cfg.stopErr && first.CompareAndSwap(-1, int64(i)) {
				halt() // the others: dropped or cancelled
			}
			done <- i
		})
		for drained := false; !drained; { // report what completed meanwhile
			select {
			case j := <-done:
				step(j)
			default:
				drained = true
			}
		}
	}
	for finished < n {
		step(<-done) // every aio resolves: ctx's end cancels them
	}
	if bar != nil {
		_ = bar.Finish()
	}
	out := make([]R, n)
	var me *MapError
	for i, a := range as {
		v, err := a.Result()
		if err != nil {
			if me == nil {
				me = &MapError{Task: name, Errs: make([]error, n), First: i}
			}
			me.Errs[i] = err
			me.Failed++
			continue
		}
		out[i] = v
	}
	if me != nil {
		if f := first.Load(); f >= 0 {
			me.First = int(f)
		}
		return out, me
	}
	return out, nil
}
