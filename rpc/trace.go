package rpc

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/tracing"
	"github.com/nanoact/nanoact/sockets"
)

// TraceOption is an option of Request, Reply, Go and Call (an Option)
// that NewServer takes too (a ServerOption).
type TraceOption interface {
	Option
	ServerOption
}

type tracerOption struct{ tp trace.TracerProvider }

func (o tracerOption) apply(c config) config { c.tp = o.tp; return c }

func (o tracerOption) applyServer(c *serverConfig) { c.rpc = append(c.rpc, o) }

// WithTracerProvider makes requests and replies record their
// OpenTelemetry spans with tp instead of otel's global TracerProvider
// (the default, and what a nil tp means; read at each request, so that
// one installed later takes effect). A noop provider, like the global one while no program has
// installed any, records nothing and costs nothing: no span, no
// allocation, nothing added to the messages.
//
// With a provider that records, Request starts a client span "rpc.Request"
// (a child of the span in ParentSpan's context, or of Call's), ended with
// an Error status when the request fails; a Serial-mode request carries
// its W3C trace context (see the package doc, "Tracing") so that the
// server's span "rpc.Reply" (Reply, Server) is its child. The server's
// handler gets a context holding that span.
func WithTracerProvider(tp trace.TracerProvider) TraceOption { return tracerOption{tp} }

// ParentSpan makes the span in ctx the parent of a Request's span (Call
// does this with its own context). Only ctx's span is used, not its
// deadline: use Timeout for that. Without it a Request's span is a root.
func ParentSpan(ctx context.Context) Option {
	return optionFunc(func(c config) config { c.parent = ctx; return c })
}

// traceTag is the CBOR tag, in the first-come-first-served range and not
// registered, that marks a Serial-mode request carrying a trace context:
// marker, tag 0x6e617472 ("natr"), a two-element array of the carrier and
// then the codec's payload, which with the CBOR codec makes the whole
// payload one CBOR data item, tag(carrier, value).
const traceTag = "\xda\x6e\x61\x74\x72\x82"

// tracedRequest is Request with its client span.
func tracedRequest[T any](tr trace.Tracer, c sockets.Conn, data any, cfg config) *aio.Aio[T] {
	parent := cfg.parent
	if parent == nil {
		parent = context.Background()
	}
	ctx, span := tr.Start(parent, "rpc.Request", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("rpc.system", "nanoact")))
	if cfg.sendMode == sockets.Serial {
		if m, ok := tracedBody(ctx, data, c.Codec()); ok {
			data = m
		}
	}
	a := request[T](c, data, cfg)
	a.OnComplete(func(_ T, err error) { tracing.End(span, err) })
	return a
}

// tracedBody encodes data as a Serial-mode request carrying the trace
// context of ctx; false when data is a message already or does not
// encode (the plain path then reports the error).
func tracedBody(ctx context.Context, data any, cd sockets.Codec) (*sockets.Msg, bool) {
	if _, ok := data.(*sockets.Msg); ok || !tracing.Valid(ctx) {
		return nil, false
	}
	b := make([]byte, 0, 128)
	b = append(append(b, codec.Marker...), traceTag...)
	b = tracing.AppendCarrier(b, ctx)
	k := len(b)
	b, err := codec.AppendSerial(b, cd, data)
	if err != nil {
		return nil, false
	}
	// The payload follows the carrier without a marker of its own.
	b = b[:k+copy(b[k:], b[k+len(codec.Marker):])]
	return sockets.NewMsg(b), true
}

// untrace removes the trace context from a Serial-mode request that
// carries one, leaving m a plain Serial-mode payload, and returns that
// context; it returns an invalid span context, and leaves m alone, for
// any other request, and for every request received in a raw mode. It
// does not allocate for a request without a trace context.
func untrace(m *sockets.Msg, mode sockets.Mode) trace.SpanContext {
	b := m.Body
	if mode != sockets.Serial {
		return trace.SpanContext{}
	}
	k := len(codec.Marker) + len(traceTag)
	if len(b) < k || string(b[len(codec.Marker):k]) != traceTag || !codec.IsSerial(b) {
		return trace.SpanContext{}
	}
	sc, n, ok := tracing.ReadCarrier(b[k:])
	if !ok {
		return trace.SpanContext{}
	}
	k += n
	copy(b[k-len(codec.Marker):k], codec.Marker)
	m.Body = b[k-len(codec.Marker):]
	return sc
}

// startReply starts the server span of a request whose trace context was
// sc (invalid: none), a child of it.
func startReply(ctx context.Context, tr trace.Tracer, sc trace.SpanContext) (context.Context, trace.Span) {
	return tr.Start(tracing.Remote(ctx, sc), "rpc.Reply", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("rpc.system", "nanoact")))
}
