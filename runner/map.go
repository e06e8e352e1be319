package runner

import (
	"context"
	"fmt"
	"io"
	"os"
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

// MapError collects the failures of a Map: Errs[i] is the error of
// inputs[i], nil where that task succeeded. errors.Is and errors.As look
// through every failure.
type MapError struct {
	Task   string
	Errs   []error
	Failed int
}

// Error says how many tasks failed and gives the first failure.
func (e *MapError) Error() string {
	for i, err := range e.Errs {
		if err != nil {
			return fmt.Sprintf("runner: map %s: %d of %d tasks failed; first, input %d: %v", e.Task, e.Failed, len(e.Errs), i, err)
		}
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
// Cost: one Submit per input, plus one callback each.
func Map[A, R any](ctx context.Context, d *Dispatcher, name string, inputs []A, opts ...TaskOption) ([]R, error) {
	cfg := taskOptions(opts)
	as := make([]*aio.Aio[R], len(inputs))
	done := make(chan struct{}, len(inputs))
	bar := newBar(cfg.progress, len(inputs), name)
	for i, in := range inputs {
		as[i] = Submit[R](ctx, d, name, in, opts...)
		if bar != nil {
			as[i].OnComplete(func(R, error) { done <- struct{}{} })
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
				me = &MapError{Task: name, Errs: make([]error, len(inputs))}
			}
			me.Errs[i] = err
			me.Failed++
			continue
		}
		out[i] = v
	}
	if me != nil {
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
	return progressbar.NewOptions(n,
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
}
