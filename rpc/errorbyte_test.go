package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

// repReq returns a listening rep socket and a req socket dialled to it.
func repReq(t *testing.T) (rep, req *sockets.Socket) {
	t.Helper()
	url := fmt.Sprintf("inproc://errbyte-%d", seq.Add(1))
	rep, err := sockets.New(sockets.Rep, sockets.Listen(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rep.Close() })
	return rep, newReq(t, url)
}

// TestSerialZeroIsNotTheErrorByte checks that a serial 0 goes out as the
// marker and CBOR's one-byte 0 (no special two-byte form), and that a
// Request tells it from the error byte, which is ErrRemote.
func TestSerialZeroIsNotTheErrorByte(t *testing.T) {
	t.Parallel()
	rep, req := repReq(t)
	ctx := ctxT(t)
	zero := func(context.Context, int) (int, error) { return 0, nil }
	if err := req.Send(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if err := rpc.Reply(ctx, rep, zero); err != nil {
		t.Fatal(err)
	}
	m, err := req.Recv(ctx)
	if err != nil || !bytes.Equal(m.Body, []byte{0xd9, 0xd9, 0xf7, 0x00}) {
		t.Fatalf("serial 0 reply % x, %v", m.Body, err)
	}

	c, err := req.Context()
	if err != nil {
		t.Fatal(err)
	}
	// A Request decodes the serial 0 as 0, and the error byte as ErrRemote.
	a := rpc.Request[int](c, 1)
	if err := rpc.Reply(ctx, rep, zero); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Value(ctx); err != nil || v != 0 {
		t.Fatalf("serial 0: %v, %v", v, err)
	}
	a = rpc.Request[int](c, 1)
	if err := rpc.Reply(ctx, rep, func(context.Context, int) (int, error) { return 0, errors.New("no") }); err == nil {
		t.Fatal("Reply did not return the handler's error")
	}
	if _, err := a.Value(ctx); !errors.Is(err, rpc.ErrRemote) {
		t.Fatalf("error byte: %v, want ErrRemote", err)
	}
}

// TestRawEmptyStringIsTheErrorByte documents the one ambiguity left, as in
// nanonext: a Raw-mode reply of "" is a lone NUL, the error byte.
func TestRawEmptyStringIsTheErrorByte(t *testing.T) {
	t.Parallel()
	rep, req := repReq(t)
	ctx := ctxT(t)
	c, err := req.Context()
	if err != nil {
		t.Fatal(err)
	}
	a := rpc.Request[string](c, "q", rpc.SendMode(sockets.Raw), rpc.RecvMode(sockets.String))
	empty := func(context.Context, string) (string, error) { return "", nil }
	if err := rpc.Reply(ctx, rep, empty, rpc.RecvMode(sockets.String), rpc.SendMode(sockets.Raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Value(ctx); !errors.Is(err, rpc.ErrRemote) {
		t.Fatalf(`raw "" reply: %v, want ErrRemote`, err)
	}
}

// TestRequestUnmarkedReply checks that a raw reply received in Serial mode
// is a ConvertError that names the request and the Go type, not a value
// decoded by chance, and that a raw request to a serial handler gets the
// error reply.
func TestRequestUnmarkedReply(t *testing.T) {
	t.Parallel()
	rep, req := repReq(t)
	ctx := ctxT(t)
	c, err := req.Context()
	if err != nil {
		t.Fatal(err)
	}
	a := rpc.Request[int](c, 1)
	raw := func(context.Context, int) ([]byte, error) { return []byte{0x18, 0x2a}, nil } // CBOR 42, unmarked
	if err := rpc.Reply(ctx, rep, raw, rpc.SendMode(sockets.Raw)); err != nil {
		t.Fatal(err)
	}
	v, err := a.Value(ctx)
	var ce *nanoact.ConvertError
	if !errors.As(err, &ce) || v != 0 || ce.Op != "rpc: request" || ce.Type != "int" || !bytes.Equal(ce.Data, []byte{0x18, 0x2a}) {
		t.Fatalf("unmarked reply: %v, %v", v, err)
	}

	a = rpc.Request[int](c, []byte{0x01}, rpc.SendMode(sockets.Raw))
	err = rpc.Reply(ctx, rep, func(context.Context, int) (int, error) { return 1, nil })
	if !errors.As(err, &ce) || ce.Op != "rpc: reply" {
		t.Fatalf("Reply to a raw request: %v", err)
	}
	if _, err := a.Value(ctx); !errors.Is(err, rpc.ErrRemote) {
		t.Fatalf("raw request: %v, want ErrRemote", err)
	}
}
