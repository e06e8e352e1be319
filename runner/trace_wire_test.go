package runner

import (
	"bytes"
	"context"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/nanoact/nanoact/internal/tracing"
)

// TestTaskTraceCarrier checks the task message's 9th element: written
// only when there is a carrier, read back as its bytes, a well-formed
// CBOR array of text strings, and that a reader of version 2 before it
// (eight elements) decodes the rest alike.
func TestTaskTraceCarrier(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled})
	carrier := tracing.AppendCarrier(nil, trace.ContextWithSpanContext(context.Background(), sc))
	if len(carrier) == 0 {
		t.Fatal("no carrier for a valid span context")
	}
	plain := appendTask(nil, 7, "sq", []byte{0x07}, 0, 1, 1, 9, nil)
	traced := appendTask(nil, 7, "sq", []byte{0x07}, 0, 1, 1, 9, carrier)
	if plain[0] != 0x88 || traced[0] != 0x89 || !bytes.Equal(traced[1:len(plain)], plain[1:]) {
		t.Fatalf("plain % x, traced % x", plain, traced)
	}
	var generic []any
	if err := cbor.Unmarshal(traced, &generic); err != nil || len(generic) != 9 {
		t.Fatalf("not one CBOR array of 9: %v %v", generic, err)
	}
	f, err := decodeFrame(traced)
	if err != nil || !bytes.Equal(f.trace, carrier) || f.seed != 9 || f.name != "sq" {
		t.Fatalf("decoded %+v, %v", f, err)
	}
	got, n, ok := tracing.ReadCarrier(f.trace)
	if !ok || n != len(carrier) || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsRemote() {
		t.Fatalf("carrier read back as %v (%d bytes, %v)", got, n, ok)
	}
	if f, err := decodeFrame(plain); err != nil || f.trace != nil {
		t.Fatalf("untraced task decoded %+v, %v", f, err)
	}
	// A malformed 9th element makes the message malformed.
	bad := append(appendTask(nil, 7, "sq", nil, 0, 1, 1, 9, nil), 0x01)
	bad[0] = 0x89
	if _, err := decodeFrame(bad); err == nil {
		t.Fatal("a task whose trace is a number decoded")
	}
}
