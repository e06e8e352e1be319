package runner

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/tracing"
)

// WithTracerProvider makes a dispatcher or daemon record its
// OpenTelemetry spans with tp instead of otel's global TracerProvider (the
// default, and what a nil tp means; read at each task, so that a provider
// installed later takes effect). A noop provider, like the global one while the program has
// installed none, records nothing and costs nothing: no span, no
// allocation, no trace context in the task messages.
//
// With a provider that records, each submission has a span "runner.task"
// (a child of the span in Submit's context; from Submit to its result,
// with an Error status when the task fails), and each attempt a span
// "runner.queue", its child, for the wait in the queue (from submission,
// or the attempt before, to the send to a daemon). The task message then
// carries the task span's W3C trace context (see "Wire protocol" in the
// package doc), and a daemon with a provider that records runs the task
// in a span "runner.run", the task span's child in the same trace (a root
// span when the task came without a trace context), whose context the
// task function gets; a task that fails or panics sets its status to
// Error. StartDaemons' daemons take the dispatcher's provider; a daemon
// process records with the one its main installs (or passes to
// daemoncmd.Main).
func WithTracerProvider(tp trace.TracerProvider) RunnerOption {
	return runnerOption{
		d:  func(c *dispatcherConfig) { c.tp = tp },
		dm: func(c *daemonConfig) { c.tp = tp },
	}
}

// taskTrace is the tracing of a submission: its span, and what each of
// its attempts needs. Only the actor uses it after the submission.
type taskTrace struct {
	tr      trace.Tracer
	ctx     context.Context // holds span
	span    trace.Span
	carrier []byte    // the span's context, as a task message's 9th element
	queued  time.Time // when the current queue wait began
}

// traceTask starts the span of t, submitted with ctx, if d's tracer
// provider records; the span ends when a resolves.
func traceTask[R any](ctx context.Context, d *Dispatcher, t *task, a *aio.Aio[R]) {
	tr := tracing.Tracer(d.cfg.tp)
	if tr == nil {
		return
	}
	sctx, span := tr.Start(ctx, "runner.task", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("runner.task.name", t.name)))
	t.watcher().tr = &taskTrace{tr: tr, ctx: sctx, span: span, carrier: tracing.AppendCarrier(nil, sctx), queued: time.Now()}
	a.OnComplete(func(_ R, err error) { tracing.End(span, err) })
}

// traceSend records the queue wait of an attempt of t about to be sent to
// daemon, and returns the trace carrier of its task message (nil: none).
func (t *task) traceSend(daemon string) []byte {
	tt := t.trace()
	if tt == nil {
		return nil
	}
	now := time.Now()
	_, span := tt.tr.Start(tt.ctx, "runner.queue", trace.WithTimestamp(tt.queued),
		trace.WithAttributes(attribute.Int("runner.attempt", int(t.attempt)), attribute.String("runner.daemon", daemon)))
	span.End(trace.WithTimestamp(now))
	tt.queued = now
	if int(t.nargs)+len(t.name)+taskOverhead+len(tt.carrier) > t.disp().cfg.maxFrame {
		return nil // the frame limit comes first: the daemon's span is then a root
	}
	return tt.carrier
}

// runCtx is the context of a task run in a span of the daemon's: endRun
// ends that span, and no other.
type runCtx struct {
	context.Context
	span trace.Span
}

// traceRun starts the span of a task a daemon runs, if dm's tracer
// provider records, and returns ctx with it (a *runCtx); the span is the
// child of the trace context f carries. It returns ctx itself otherwise,
// so that a task that is not traced costs nothing more.
func (dm *Daemon) traceRun(ctx context.Context, f *frame) context.Context {
	tr := tracing.Tracer(dm.cfg.tp)
	if tr == nil {
		return ctx
	}
	if len(f.trace) > 0 {
		sc, _, _ := tracing.ReadCarrier(f.trace)
		ctx = tracing.Remote(ctx, sc)
	}
	ctx, span := tr.Start(ctx, "runner.run", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("runner.task.name", f.name), attribute.String("runner.daemon", dm.id),
			attribute.Int64("runner.task.id", int64(f.task)), attribute.Int64("runner.attempt", int64(f.attempt))))
	return &runCtx{Context: ctx, span: span}
}

// endRun ends the span of a task run by a daemon in ctx (traceRun's) with
// the status of its result message, body; nothing for a task not traced.
func endRun(ctx context.Context, body []byte) {
	rc, ok := ctx.(*runCtx)
	if !ok {
		return
	}
	span := rc.span
	if f, err := decodeFrame(body); err == nil && (f.hasErr || f.panic) {
		span.SetStatus(codes.Error, f.text)
		if f.panic {
			span.AddEvent("panic", trace.WithAttributes(attribute.String("runner.panic", f.text)))
		}
	}
	span.End()
}

// carrier reads a task message's trace carrier (a CBOR array of one or
// two text strings, see tracing.AppendCarrier) and returns its bytes,
// without decoding it: only a daemon that traces does.
func (r *reader) carrier() []byte {
	start := r.b
	n := r.array()
	if n < 1 || n > 2 {
		r.err = true
		return nil
	}
	for range n {
		r.raw(majText)
	}
	if r.err {
		return nil
	}
	return start[:len(start)-len(r.b)]
}
