package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/nanoact/nanoact/internal/tracing/spanlog"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

// TestTraceRequestReply checks that a Request's span is a child of the
// span in ParentSpan's context, that the request carries its context to
// Reply, whose span is the client span's child in the same trace, and
// that the handler sees the server span.
func TestTraceRequestReply(t *testing.T) {
	t.Parallel()
	log, tp := spanlog.New(t)
	rep, req := repReq(t)
	ctx := ctxT(t)
	root, rootSpan := tp.Tracer("test").Start(ctx, "root")
	var inHandler trace.SpanContext
	done := make(chan error, 1)
	go func() {
		done <- rpc.Reply(ctx, rep, func(ctx context.Context, n int) (int, error) {
			inHandler = trace.SpanContextFromContext(ctx)
			return n + 1, nil
		}, rpc.WithTracerProvider(tp))
	}()
	v, err := rpc.Request[int](req, 41, rpc.WithTracerProvider(tp), rpc.ParentSpan(root)).Value(ctx)
	if err != nil || v != 42 {
		t.Fatalf("%v %v", v, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rootSpan.End()
	client, server := log.Wait(ctx, t, "rpc.Request"), log.Wait(ctx, t, "rpc.Reply")
	if client.Parent().SpanID() != rootSpan.SpanContext().SpanID() || client.SpanKind() != trace.SpanKindClient {
		t.Fatalf("client span's parent %v, kind %v; want %v", client.Parent().SpanID(), client.SpanKind(), rootSpan.SpanContext().SpanID())
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || !server.Parent().IsRemote() ||
		server.SpanContext().TraceID() != rootSpan.SpanContext().TraceID() || server.SpanKind() != trace.SpanKindServer {
		t.Fatalf("server span %v, parent %v (remote %v); client %v", server.SpanContext(), server.Parent(), server.Parent().IsRemote(), client.SpanContext())
	}
	if inHandler.SpanID() != server.SpanContext().SpanID() {
		t.Fatalf("the handler's context holds span %v, not the server's %v", inHandler.SpanID(), server.SpanContext().SpanID())
	}
	if client.Status().Code == codes.Error || server.Status().Code == codes.Error {
		t.Fatalf("statuses %v %v", client.Status(), server.Status())
	}
}

// TestTraceServerCall checks a Server and Client: Call's context gives
// the parent, each server span is its call's child, and a failing
// handler sets both spans' status to Error.
func TestTraceServerCall(t *testing.T) {
	t.Parallel()
	log, tp := spanlog.New(t)
	srv, err := rpc.NewServer(func(ctx context.Context, n int) (int, error) {
		if n < 0 {
			return 0, errors.New("negative")
		}
		return n * n, nil
	}, rpc.WithListen(fmt.Sprintf("inproc://trace-%d", seq.Add(1))), rpc.WithWorkers(2), rpc.WithTracerProvider(tp))
	c := traceClient(t, srv, err)
	ctx, root := tp.Tracer("test").Start(ctxT(t), "root")
	if v, err := rpc.Call[int](ctx, c, 7, rpc.WithTracerProvider(tp)); err != nil || v != 49 {
		t.Fatalf("%v %v", v, err)
	}
	client, server := log.Wait(ctx, t, "rpc.Request"), log.Wait(ctx, t, "rpc.Reply")
	if client.Parent().SpanID() != root.SpanContext().SpanID() || server.Parent().SpanID() != client.SpanContext().SpanID() {
		t.Fatalf("client %v parent %v; server parent %v", client.SpanContext(), client.Parent(), server.Parent())
	}
	log.Reset()
	if _, err := rpc.Call[int](ctx, c, -1, rpc.WithTracerProvider(tp)); !errors.Is(err, rpc.ErrRemote) {
		t.Fatalf("error reply: %v", err)
	}
	client, server = log.Wait(ctx, t, "rpc.Request"), log.Wait(ctx, t, "rpc.Reply")
	if server.Status().Code != codes.Error || server.Status().Description != "negative" {
		t.Fatalf("failed handler's span status %v", server.Status())
	}
	if client.Status().Code != codes.Error || server.Parent().SpanID() != client.SpanContext().SpanID() {
		t.Fatalf("client status %v, server parent %v, client %v", client.Status(), server.Parent(), client.SpanContext())
	}
}

// TestTraceUntracedPeers checks that a traced request reaches a server
// that records nothing, which still decodes it, that Raw-mode requests go
// out as they are, traced or not, and that a server without a trace
// context in the request starts a root span.
func TestTraceUntracedPeers(t *testing.T) {
	t.Parallel()
	log, tp := spanlog.New(t)
	ctx := ctxT(t)
	parent, root := tp.Tracer("test").Start(ctx, "root")
	defer root.End()

	rep, req := repReq(t)
	done := make(chan error, 1)
	go func() {
		done <- rpc.Reply(ctx, rep, func(_ context.Context, s string) (string, error) { return s + "!", nil },
			rpc.WithTracerProvider(noop.NewTracerProvider()))
	}()
	v, err := rpc.Request[string](req, "hi", rpc.WithTracerProvider(tp), rpc.ParentSpan(parent)).Value(ctx)
	if err != nil || v != "hi!" {
		t.Fatalf("%q %v", v, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Raw mode: the server sees exactly the bytes sent.
	go func() {
		m, err := rep.RecvMsg(ctx)
		if err == nil {
			err = rep.Send(ctx, m.Body, sockets.Raw)
		}
		done <- err
	}()
	raw, err := rpc.Request[[]byte](req, []byte("abc"), rpc.SendMode(sockets.Raw), rpc.RecvMode(sockets.Raw),
		rpc.WithTracerProvider(tp), rpc.ParentSpan(parent)).Value(ctx)
	if err != nil || string(raw) != "abc" {
		t.Fatalf("raw echo %q %v", raw, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// An untraced client: the server's span is a root.
	log.Reset()
	go func() {
		done <- rpc.Reply(context.Background(), rep, func(_ context.Context, n int) (int, error) { return n, nil },
			rpc.WithTracerProvider(tp))
	}()
	if v, err := rpc.Request[int](req, 5).Value(ctx); err != nil || v != 5 {
		t.Fatalf("%v %v", v, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := log.Wait(ctx, t, "rpc.Reply"); s.Parent().IsValid() {
		t.Fatalf("server span of an untraced request has parent %v", s.Parent())
	}
}

// TestTraceOffAddsNothing checks that with no provider installed (otel's
// global one, the default) a request is the plain serial payload.
func TestTraceOffAddsNothing(t *testing.T) {
	t.Parallel()
	_, tp := spanlog.New(t)
	ctx, root := tp.Tracer("test").Start(ctxT(t), "root")
	defer root.End()
	rep, req := repReq(t)
	a := rpc.Request[int](req, 1, rpc.ParentSpan(ctx))
	m, err := rep.RecvMsg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\xd9\xd9\xf7\x01"; string(m.Body) != want {
		t.Fatalf("request %x, want %x", m.Body, want)
	}
	m.Free()
	a.Stop()
}

// TestTraceWireFormat checks a traced request's bytes (marker, tag
// 0x6e617472, a two-element array of the carrier and the value), that
// with the CBOR codec they are one CBOR item, and that a server reading
// in Raw mode gets them as they are.
func TestTraceWireFormat(t *testing.T) {
	t.Parallel()
	_, tp := spanlog.New(t)
	ctx, root := tp.Tracer("test").Start(ctxT(t), "root")
	defer root.End()
	rep, req := repReq(t)
	a := rpc.Request[int](req, 1, rpc.WithTracerProvider(tp), rpc.ParentSpan(ctx))
	m, err := rep.RecvMsg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte(nil), m.Body...)
	m.Free()
	a.Stop()
	prefix := "\xd9\xd9\xf7\xda\x6e\x61\x74\x72\x82\x81\x78\x37" // marker, tag, [ [traceparent (55 bytes)]
	if !strings.HasPrefix(string(body), prefix) || body[len(body)-1] != 0x01 || len(body) != len(prefix)+55+1 {
		t.Fatalf("traced request % x", body)
	}
	if want := root.SpanContext().TraceID().String(); !strings.Contains(string(body), want) {
		t.Fatalf("traced request %q lacks the trace id %s", body, want)
	}
	var item cbor.Tag
	if err := cbor.Unmarshal(body[3:], &item); err != nil || item.Number != 0x6e617472 {
		t.Fatalf("not one CBOR tag: %v %v", item, err)
	}

	done := make(chan error, 1)
	go func() {
		done <- rpc.Reply(ctx, rep, func(_ context.Context, b []byte) ([]byte, error) { return b, nil },
			rpc.RecvMode(sockets.Raw), rpc.SendMode(sockets.Raw), rpc.WithTracerProvider(tp))
	}()
	got, err := rpc.Request[[]byte](req, body, rpc.SendMode(sockets.Raw), rpc.RecvMode(sockets.Raw)).Value(ctx)
	if err != nil || string(got) != string(body) {
		t.Fatalf("raw echo % x, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// traceClient closes srv (made with err) when the test ends and returns a
// client of it, closed then too.
func traceClient(tb testing.TB, srv *rpc.Server, err error) *rpc.Client {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	c, err := rpc.NewClient(sockets.Dial(srv.URL(), sockets.Sync))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
