package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/nanoact/nanoact/aio"
)

type progressMode struct {
	on bool
	w  io.Writer // nil: os.Stderr if it is a terminal
}

// Progress makes Map draw a progress bar on standard error, only when
// standard error is a terminal (so logs and CI output stay clean). Submit
// ignores it. Map draws none by default: library code writes nothing unless
// asked.
func Progress() TaskOption {
	return progressOpt{on: true}
}

// ProgressTo makes Map draw its progress bar on w whatever w is (nil: no
// bar). Submit ignores it.
func ProgressTo(w io.Writer) TaskOption {
	return progressOpt{on: w != nil, w: w}
}

// StopOnError makes Map stop at the first task that fails: every task not
// yet finished is cancelled (a queued one is dropped, a running one
// cancelled on its daemon) and fails with ErrCanceled, so that a failing
// input does not cost the whole map; the MapError's First is the failure
// that stopped it. Submit ignores it. Map does not stop by default.
func StopOnError() TaskOption { return stopOnErrOpt(true) }

// MapError collects the failures of a Map: Errs[i] is the error of
// inputs[i], nil where that task succeeded. errors.Is and errors.As look
// through every failure.
type MapError struct {
	Task   string
	Errs   []error
	Failed int
	// First is the index of the failure that stopped the map
	// (StopOnError), else of the first failed input.
	First int
}

// Error says how many tasks failed and gives the first failure.
func (e *MapError) Error() string {
	if e.First >= 0 && e.First < len(e.Errs) && e.Errs[e.First] != nil {
		return fmt.Sprintf("runner: map %s: %d of %d tasks failed; first, input %d: %v", e.Task, e.Failed, len(e.Errs), e.First, e.Errs[e.First])
	}
	return fmt.Sprintf("runner: map %s: no failure", e.Task)
}

// Unwrap returns the failures, for errors.Is and errors.As.
func (e *MapError) Unwrap() []error {
	out := make([]error, 0, e.Failed)
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Map runs the task registered as name once per input on the dispatcher's
// daemons (mirai_map) and blocks until all have completed, returning the
// results in input order. If any task failed, the error is a *MapError
// holding every failure by index (the results there are zero values); the
// others' results are still returned. opts apply to every task (TaskTimeout,
// Requeue), and Progress or ProgressTo draws a progress bar as tasks
// complete, in whatever order.
//
// ctx bounds the whole map: when it ends, the tasks not yet completed are
// cancelled and fail with ErrCanceled or ErrTimedOut in the MapError.
// StopOnError cancels them at the first failure. Submit blocks while the
// dispatcher's queue is full (WithMaxQueued), so Map may wait to submit.
// Cost: one Submit per input, plus one callback each.
func Map[A, R any](ctx context.Context, d *Dispatcher, name string, inputs []A, opts ...TaskOption) ([]R, error) {
	cfg := taskOptions(opts)
	as := make([]*aio.Aio[R], len(inputs))
	done := make(chan struct{}, len(inputs))
	bar := newBar(cfg.progress, len(inputs), name)
	first := atomic.Int64{}
	first.Store(-1)
	if cfg.stopErr {
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		for i, in := range inputs {
			as[i] = Submit[R](ctx, d, name, in, opts...)
			as[i].OnComplete(func(_ R, err error) {
				if err != nil && first.CompareAndSwap(-1, int64(i)) {
					stop() // the others' ctx: they are dropped or cancelled
				}
				if bar != nil {
					done <- struct{}{}
				}
			})
		}
	} else {
		for i, in := range inputs {
			as[i] = Submit[R](ctx, d, name, in, opts...)
			if bar != nil {
				as[i].OnComplete(func(R, error) { done <- struct{}{} })
			}
		}
	}
	if bar != nil {
		for range inputs {
			<-done // every aio resolves: ctx's end cancels them
			_ = bar.Add(1)
		}
		_ = bar.Finish()
	}
	out := make([]R, len(inputs))
	var me *MapError
	for i, a := range as {
		v, err := a.Value(context.Background()) // bounded: ctx cancels the tasks
		if err != nil {
			if me == nil {
				me = &MapError{Task: name, Errs: make([]error, len(inputs)), First: i}
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

// Map runs the task over inputs; see the package-level Map.
func (t Task[A, R]) Map(ctx context.Context, d *Dispatcher, inputs []A, opts ...TaskOption) ([]R, error) {
	return Map[A, R](ctx, d, t.name, inputs, opts...)
}

func newBar(p progressMode, n int, name string) *progressbar.ProgressBar {
	if !p.on || n == 0 {
		return nil
	}
	w := p.w
	if w == nil {
		if !term.IsTerminal(int(os.Stderr.Fd())) {
			return nil
		}
		w = os.Stderr
	}
	bar := progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("tasks"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	// The rate's clock starts now, with the map, not at the first finished
	// task: otherwise the first line claims one task in a few µs.
	bar.StartWithoutRender()
	return bar
}
