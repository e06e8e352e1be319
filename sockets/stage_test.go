package sockets_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// Only protocols whose send changes state can stage one.
func TestStageSendSupport(t *testing.T) {
	t.Parallel()
	for _, p := range []sockets.Protocol{sockets.Push, sockets.Pair, sockets.Bus, sockets.Pub, sockets.Surveyor} {
		_, err := open(t, p).StageSend(sockets.NewMsg([]byte("x")))
		wantCode(t, err, nanoact.ErrNotSupported)
	}
	raw := open(t, sockets.Req, sockets.WithRaw())
	_, err := raw.StageSend(sockets.NewMsg([]byte("x")))
	wantCode(t, err, nanoact.ErrNotSupported)

	m := sockets.NewMsg([]byte("no request"))
	_, err = open(t, sockets.Rep).StageSend(m)
	wantCode(t, err, nanoact.ErrState)
	if string(m.Body) != "no request" {
		t.Fatalf("message not given back: %q", m.Body)
	}
	closed := open(t, sockets.Req)
	_ = closed.Close()
	_, err = closed.StageSend(sockets.NewMsg(nil))
	wantCode(t, err, nanoact.ErrClosed)
}

// A staged request is registered before it is queued: a receive waits for
// its reply, a try that misses keeps it, and the queueing sends it once a
// peer is there.
func TestStageSendReq(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	req := open(t, sockets.Req)
	queue, err := req.StageSend(sockets.NewMsg([]byte("staged")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = req.Recv(sockets.NonBlock(ctx))
	wantCode(t, err, nanoact.ErrTryAgain) // not ErrState: the request is there
	wantCode(t, queue(sockets.NonBlock(ctx)), nanoact.ErrTryAgain)

	rep := open(t, sockets.Rep)
	connect(t, rep, req, inprocURL("stage-req"))
	if err := queue(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := rep.Recv(ctx)
	if err != nil || string(m.Body) != "staged" {
		t.Fatalf("rep got %v", err)
	}
	if err := rep.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	r, err := req.Recv(ctx)
	if err != nil || string(r.Body) != "staged" {
		t.Fatalf("reply %v", err)
	}
	r.Free()
}

// A later request cancels a staged one still waiting to be queued; one
// given up with an ended context is never sent and leaves no request.
func TestStageSendReqCancel(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	req := open(t, sockets.Req)
	m := sockets.NewMsg([]byte("first"))
	queue, err := req.StageSend(m)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- queue(ctx) }()
	// The second request replaces the first, whose queueing ends.
	second, err := req.StageSend(sockets.NewMsg([]byte("second")))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-errc, nanoact.ErrCanceled)
	if string(m.Body) != "first" {
		t.Fatalf("cancelled message not given back: %q", m.Body)
	}
	m.Free()

	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := second(ended); !errors.Is(err, nanoact.ErrCanceled) {
		t.Fatalf("queue with an ended context: %v", err)
	}
	_, err = req.Recv(sockets.NonBlock(ctx))
	wantCode(t, err, nanoact.ErrState) // abandoned
}

// A staged reply takes the request it answers: the context can receive
// the next request before the reply is queued, and the reply still goes
// to the requester that asked.
func TestStageSendRep(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	rep := open(t, sockets.Rep)
	url := inprocURL("stage-rep")
	if _, err := rep.Listen(url); err != nil {
		t.Fatal(err)
	}
	a, b := open(t, sockets.Req), open(t, sockets.Req)
	for _, r := range []*sockets.Socket{a, b} {
		if _, err := r.Dial(url, sockets.Sync); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return rep.Pipes() == 2 })
	for _, r := range []*sockets.Socket{a, b} {
		if err := r.Send(ctx, []byte("from "+map[*sockets.Socket]string{a: "a", b: "b"}[r]), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	first, err := rep.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	answer := "re: " + string(first.Body)
	queue, err := rep.StageSend(sockets.NewMsg([]byte(answer)))
	if err != nil {
		t.Fatal(err)
	}
	second, err := rep.Recv(ctx) // the first request is answered already
	if err != nil {
		t.Fatal(err)
	}
	if err := queue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rep.Send(ctx, []byte("re: "+string(second.Body)), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*sockets.Socket{a, b} {
		m, err := r.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := "re: from " + map[*sockets.Socket]string{a: "a", b: "b"}[r]
		if got := string(m.Body); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		m.Free()
	}
}

// Take decodes and owns the message: small raw bodies are copied, large
// ones shared, and a conversion error keeps its own bytes.
func TestTake(t *testing.T) {
	t.Parallel()
	small, err := sockets.Take[[]byte](sockets.NewMsg([]byte("small")), sockets.Raw, nil)
	if err != nil || string(small) != "small" {
		t.Fatalf("%q %v", small, err)
	}
	big := make([]byte, 64<<10)
	big[len(big)-1] = 7
	m := sockets.NewMsg(big)
	shared, err := sockets.Take[[]byte](m, sockets.Raw, nil)
	if err != nil || len(shared) != len(big) || shared[len(shared)-1] != 7 || &shared[0] != &m.Body[0] {
		t.Fatalf("large body not shared: %v", err)
	}
	empty, err := sockets.Take[[]byte](sockets.NewMsg(nil), sockets.Raw, nil)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("empty body: %v %v", empty, err)
	}
	_, err = sockets.Take[[]float64](sockets.NewMsg([]byte("seven")), sockets.Double, nil)
	var ce *nanoact.ConvertError
	if !errors.As(err, &ce) {
		t.Fatalf("%v", err)
	}
	sockets.NewMsg([]byte("XXXXX")).Free() // reuse the pooled buffer
	if string(ce.Data) != "seven" {
		t.Fatalf("error data %q", ce.Data)
	}
	v, err := sockets.Take[int](encodeCBOR(t, 42), sockets.Serial, nil)
	if err != nil || v != 42 {
		t.Fatalf("%v %v", v, err)
	}
	// Valid CBOR without the serial marker is not decoded.
	unmarked := encodeCBOR(t, 42)
	unmarked.Body = unmarked.Body[3:]
	if v, err := sockets.Take[int](unmarked, sockets.Serial, nil); !errors.As(err, &ce) || v != 0 || string(ce.Data) != "\x18\x2a" {
		t.Fatalf("unmarked: %v %v", v, err)
	}
}

// encodeCBOR returns a message holding v's serial payload: the serial
// marker and v's CBOR.
func encodeCBOR(t *testing.T, v any) *sockets.Msg {
	t.Helper()
	b, err := open(t, sockets.Pair).Codec().Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return sockets.NewMsg(append([]byte("\xd9\xd9\xf7"), b...))
}
