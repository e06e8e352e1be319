package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
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
// that stopped it. Submit ignores it; MapAsync follows it. Map does not
// stop by default.
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
// Requeue), Progress or ProgressTo draws a progress bar as tasks
// complete, in whatever order, and ProgressFunc reports each completion.
// Input i's task gets a seed derived from the dispatcher's seed, the
// map's place among the submissions and i (SeedFrom), whichever daemon
// runs it. MapAsync is the form that returns at once.
//
// ctx bounds the whole map: when it ends, the tasks not yet completed are
// cancelled and fail with ErrCanceled or ErrTimedOut in the MapError.
// StopOnError cancels them at the first failure. Submit blocks while the
// dispatcher's queue is full (WithMaxQueued), so Map may wait to submit.
// Cost: one Submit per input, plus one callback each.
func Map[A, R any](ctx context.Context, d *Dispatcher, name string, inputs []A, opts ...TaskOption) ([]R, error) {
	// A waiter with a ctx that cannot end runs the aio's function itself:
	// no goroutine.
	return MapAsync[A, R](ctx, d, name, inputs, opts...).Value(context.Background())
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
