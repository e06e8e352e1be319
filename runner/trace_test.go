package runner_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/nanoact/nanoact/internal/tracing/spanlog"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

// traceTasks registers "spanid", which returns the id of the span in its
// context, and "refuse", which fails.
func traceTasks(reg *runner.Registry) {
	runner.Register(reg, "spanid", func(ctx context.Context, _ int) (string, error) {
		if _, ok := runner.AttemptFrom(ctx); !ok {
			return "", errors.New("no attempt in a traced task's context")
		}
		if _, ok := runner.SeedFrom(ctx); !ok {
			return "", errors.New("no seed in a traced task's context")
		}
		return trace.SpanContextFromContext(ctx).SpanID().String(), nil
	})
	runner.Register(reg, "refuse", func(context.Context, int) (int, error) { return 0, errors.New("no, thanks") })
}

// TestTraceTask checks one trace from the caller through the dispatcher
// to an in-process daemon: the task span is the caller's span's child,
// the queue and run spans the task span's (the run span through the
// trace context in the task message), the task function runs in the run
// span, and a failing task sets the task and run spans' status to Error.
func TestTraceTask(t *testing.T) {
	t.Parallel()
	log, tp := spanlog.New(t)
	f := newFixture()
	traceTasks(f.reg)
	d, _ := newDispatcher(t, f, 1, runner.WithTracerProvider(tp))
	ctx := ctxT(t)
	parent, root := tp.Tracer("test").Start(ctx, "root")
	seen, err := runner.Submit[string](parent, d, "spanid", 0).Value(ctx)
	if err != nil {
		t.Fatal(err)
	}
	root.End()
	task, queue, run := log.Wait(ctx, t, "runner.task"), log.Wait(ctx, t, "runner.queue"), log.Wait(ctx, t, "runner.run")
	id := root.SpanContext().TraceID()
	for _, s := range []sdktrace.ReadOnlySpan{task, queue, run} {
		if s.SpanContext().TraceID() != id {
			t.Fatalf("span %s in trace %v, not the caller's %v", s.Name(), s.SpanContext().TraceID(), id)
		}
	}
	if task.Parent().SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("task span's parent %v, want the caller's %v", task.Parent().SpanID(), root.SpanContext().SpanID())
	}
	if queue.Parent().SpanID() != task.SpanContext().SpanID() || queue.StartTime().After(queue.EndTime()) {
		t.Fatalf("queue span parent %v (%v to %v), task %v", queue.Parent().SpanID(), queue.StartTime(), queue.EndTime(), task.SpanContext().SpanID())
	}
	if run.Parent().SpanID() != task.SpanContext().SpanID() || !run.Parent().IsRemote() {
		t.Fatalf("run span parent %v (remote %v), want the task span %v", run.Parent().SpanID(), run.Parent().IsRemote(), task.SpanContext().SpanID())
	}
	if seen != run.SpanContext().SpanID().String() {
		t.Fatalf("the task ran in span %s, not the run span %v", seen, run.SpanContext().SpanID())
	}
	if task.Status().Code == codes.Error || run.Status().Code == codes.Error {
		t.Fatalf("statuses %v %v", task.Status(), run.Status())
	}

	log.Reset()
	_, err = runner.Submit[int](parent, d, "refuse", 0).Value(ctx)
	var te *runner.TaskError
	if !errors.As(err, &te) {
		t.Fatalf("failing task: %v", err)
	}
	task, run = log.Wait(ctx, t, "runner.task"), log.Wait(ctx, t, "runner.run")
	if run.Status().Code != codes.Error || run.Status().Description != "no, thanks" {
		t.Fatalf("run span of a failed task: status %v", run.Status())
	}
	if task.Status().Code != codes.Error || run.Parent().SpanID() != task.SpanContext().SpanID() {
		t.Fatalf("task span of a failed task: status %v; run parent %v, task %v", task.Status(), run.Parent().SpanID(), task.SpanContext().SpanID())
	}
}

// TestHelperTraceDaemon is not a test: it is the daemon process of
// TestTraceProcessDaemon, which records spans with an SDK provider of its
// own.
func TestHelperTraceDaemon(t *testing.T) {
	args := flag.Args()
	if len(args) == 0 || args[0] != "daemon" {
		t.Skip("run as a daemon process by TestTraceProcessDaemon")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	tp := sdktrace.NewTracerProvider()
	reg := runner.NewRegistry()
	// parent returns the trace and parent span ids of its run span.
	runner.Register(reg, "parent", func(ctx context.Context, _ int) ([2]string, error) {
		s, ok := trace.SpanFromContext(ctx).(sdktrace.ReadOnlySpan)
		if !ok {
			return [2]string{}, errors.New("no recording span")
		}
		return [2]string{s.SpanContext().TraceID().String(), s.Parent().SpanID().String()}, nil
	})
	code := daemoncmd.MainArgs(ctx, reg, args[1:], os.Stderr, runner.WithTracerProvider(tp))
	_ = tp.Shutdown(context.Background())
	stop()
	os.Exit(code)
}

// TestTraceProcessDaemon checks that the trace context reaches a daemon
// process: its run span is the task span's child, in the caller's trace.
func TestTraceProcessDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	log, tp := spanlog.New(t)
	d, err := runner.NewDispatcher("", runner.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out syncBuffer
	l, err := d.LaunchLocal(1, runner.WithExecutable(os.Args[0], "-test.run=^TestHelperTraceDaemon$"),
		runner.WithOutput(&out), runner.WithStopGrace(5*time.Second), quickExit)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := ctxT(t)
	parent, root := tp.Tracer("test").Start(ctx, "root")
	defer root.End()
	ids, err := runner.Submit[[2]string](parent, d, "parent", 0).Value(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	task := log.Wait(ctx, t, "runner.task")
	if ids[0] != root.SpanContext().TraceID().String() || ids[1] != task.SpanContext().SpanID().String() {
		t.Fatalf("daemon's run span: trace %s, parent %s; want trace %v, parent %v", ids[0], ids[1],
			root.SpanContext().TraceID(), task.SpanContext().SpanID())
	}
}
