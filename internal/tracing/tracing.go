// Package tracing holds what the rpc and runner packages share for
// OpenTelemetry tracing: the test of whether a TracerProvider records at
// all (so that a program without one pays nothing), and the small CBOR
// carrier of a W3C trace context (traceparent, tracestate) that both put
// into their messages.
//
// The carrier is a CBOR array of one or two text strings:
// [traceparent] or [traceparent, tracestate], as propagation.TraceContext
// writes them (https://www.w3.org/TR/trace-context/).
package tracing

import (
	"context"
	"encoding/binary"
	"reflect"
	"sync/atomic"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of nanoact's tracers.
const Scope = "github.com/nanoact/nanoact"

// Tracer returns the tracer of tp, or of otel's global provider when tp is
// nil, or nil when that provider records nothing: a noop provider, or the
// global one while no program has installed a provider
// (otel.SetTracerProvider). It does not allocate when it returns nil; it
// reads the global provider at each call, so a provider installed later
// takes effect at once.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if !records(tp) {
		return nil
	}
	return tp.Tracer(Scope)
}

// records reports whether tp may record spans: false for the noop
// providers and for otel's default global provider, which forwards to a
// noop one until a provider is installed. The global one's type is
// unexported, so it is recognised by its package path and name.
func records(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case noop.TracerProvider, *noop.TracerProvider:
		return false
	}
	t := reflect.TypeOf(tp)
	// The answer depends on the type alone: the last one is remembered,
	// since Name and PkgPath cost more than the task a runner traces.
	if m := lastRecords.Load(); m != nil && m.t == t {
		return m.ok
	}
	e := t
	if e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	ok := e.Name() != "tracerProvider" || e.PkgPath() != "go.opentelemetry.io/otel/internal/global"
	lastRecords.Store(&recordsMemo{t: t, ok: ok})
	return ok
}

// recordsMemo is records' answer for one provider type.
type recordsMemo struct {
	t  reflect.Type
	ok bool
}

var lastRecords atomic.Pointer[recordsMemo]

// carrier is a propagation.TextMapCarrier of the two W3C fields.
type carrier struct{ parent, state string }

func (c *carrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.parent
	case "tracestate":
		return c.state
	}
	return ""
}

func (c *carrier) Set(key, value string) {
	switch key {
	case "traceparent":
		c.parent = value
	case "tracestate":
		c.state = value
	}
}

func (c *carrier) Keys() []string { return []string{"traceparent", "tracestate"} }

// maxField bounds each carried field: a traceparent is 55 bytes and a
// tracestate at most 32 entries of 256 bytes, far less than this.
const maxField = 1 << 13

// AppendCarrier appends the CBOR carrier of the span context in ctx to b.
// It appends nothing when ctx holds no valid span context; callers that
// must write an element whatever happens check Valid first.
func AppendCarrier(b []byte, ctx context.Context) []byte {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return b
	}
	var c carrier
	propagation.TraceContext{}.Inject(ctx, &c)
	if c.parent == "" || len(c.parent) > maxField || len(c.state) > maxField {
		return b
	}
	if c.state == "" {
		b = append(b, 0x81)
		return appendText(b, c.parent)
	}
	b = append(b, 0x82)
	b = appendText(appendText(b, c.parent), c.state)
	return b
}

// Valid reports whether ctx holds a span context that AppendCarrier
// encodes. It does not allocate.
func Valid(ctx context.Context) bool { return trace.SpanContextFromContext(ctx).IsValid() }

func appendText(b []byte, s string) []byte {
	if n := len(s); n < 24 {
		b = append(b, 0x60|byte(n))
	} else if n < 256 {
		b = append(b, 0x78, byte(n))
	} else {
		b = binary.BigEndian.AppendUint16(append(b, 0x79), uint16(n))
	}
	return append(b, s...)
}

// ReadCarrier decodes a CBOR carrier at the start of b and returns the
// span context it holds (remote, as propagation.TraceContext extracts it)
// and the number of bytes it took. ok is false when b does not start with
// a well-formed carrier; a well-formed carrier whose traceparent is not
// valid gives ok with an invalid span context, so that the caller can
// still skip it.
func ReadCarrier(b []byte) (sc trace.SpanContext, n int, ok bool) {
	if len(b) < 1 || (b[0] != 0x81 && b[0] != 0x82) {
		return sc, 0, false
	}
	fields := int(b[0] & 0x1f)
	n = 1
	var c carrier
	for i := range fields {
		s, k, ok := readText(b[n:])
		if !ok {
			return trace.SpanContext{}, 0, false
		}
		n += k
		if i == 0 {
			c.parent = s
		} else {
			c.state = s
		}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), &c)
	return trace.SpanContextFromContext(ctx), n, true
}

// readText decodes a definite-length CBOR text string of at most maxField
// bytes.
func readText(b []byte) (s string, n int, ok bool) {
	if len(b) < 1 || b[0]>>5 != 3 {
		return "", 0, false
	}
	var size int
	switch info := b[0] & 0x1f; {
	case info < 24:
		size, n = int(info), 1
	case info == 24 && len(b) >= 2:
		size, n = int(b[1]), 2
	case info == 25 && len(b) >= 3:
		size, n = int(binary.BigEndian.Uint16(b[1:])), 3
	default:
		return "", 0, false
	}
	if size > maxField || len(b)-n < size || !utf8.Valid(b[n:n+size]) {
		return "", 0, false
	}
	return string(b[n : n+size]), n + size, true
}

// Remote returns ctx with sc as its remote parent, or ctx itself when sc
// is not valid.
func Remote(ctx context.Context, sc trace.SpanContext) context.Context {
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// End ends s, first setting its status to Error with err's text and
// recording err as an event when err is not nil.
func End(s trace.Span, err error) {
	if err != nil {
		s.RecordError(err)
		s.SetStatus(codes.Error, err.Error())
	}
	s.End()
}
