package sockets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// pushPullPair returns a connected push and pull over inproc, the push
// opened with opts.
func pushPullPair(t *testing.T, opts ...sockets.Option) (push, pull *sockets.Socket) {
	t.Helper()
	push, pull = open(t, sockets.Push, opts...), open(t, sockets.Pull)
	connect(t, pull, push, fmt.Sprintf("inproc://mode-%d", seq.Add(1)))
	return push, pull
}

// TestSerialMarkerOnWire checks that a serial send puts the marker first,
// and that a serial receive refuses what lacks it: nanonext's one-byte
// error reply (0x00) used to decode to int64(0) with no error.
func TestSerialMarkerOnWire(t *testing.T) {
	t.Parallel()
	push, pull := pushPullPair(t)
	ctx := ctxT(t)
	if err := push.Send(ctx, 0); err != nil {
		t.Fatal(err)
	}
	m, err := pull.Recv(ctx)
	if err != nil || !bytes.Equal(m.Body, []byte{0xd9, 0xd9, 0xf7, 0x00}) {
		t.Fatalf("serial 0 on the wire: % x, %v", m.Body, err)
	}
	for _, raw := range [][]byte{{0x00}, {0x18, 0x00}, []byte("hello\x00")} {
		if err := push.Send(ctx, raw, sockets.Raw); err != nil {
			t.Fatal(err)
		}
		v, err := sockets.RecvAs[any](ctx, pull)
		var ce *nanoact.ConvertError
		if !errors.As(err, &ce) || v != nil || !bytes.Equal(ce.Data, raw) {
			t.Fatalf("raw % x received in serial mode: %#v, %v; want a ConvertError", raw, v, err)
		}
		if ce.Op != "sockets: recv" || ce.Type != "interface {}" || errors.Unwrap(err) == nil {
			t.Fatalf("error %q: Op %q Type %q", err, ce.Op, ce.Type)
		}
	}
	// A payload the codec refuses names the type asked for and wraps the
	// codec's error.
	if err := push.Send(ctx, "text"); err != nil {
		t.Fatal(err)
	}
	_, err = sockets.RecvAs[int](ctx, pull)
	var e *nanoact.Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "(want int)") || !errors.Is(err, nanoact.ErrBadType) {
		t.Fatalf("text received as int: %v", err)
	}
}

// TestCharacterEmptyStrings checks nanonext 1.10's character mode: the
// strings sent come back exactly, empty ones included.
func TestCharacterEmptyStrings(t *testing.T) {
	t.Parallel()
	push, pull := pushPullPair(t)
	ctx := ctxT(t)
	for _, tc := range []struct {
		send any
		want []string
	}{
		{[]string{"a", "", ""}, []string{"a", "", ""}},
		{[]string{}, []string{}},
		{[]string{""}, []string{""}},
		{[]byte("a\x00bc\x00\x00"), []string{"a", "bc", ""}}, // R's c("a", "bc", "")
	} {
		if err := push.Send(ctx, tc.send, sockets.Raw); err != nil {
			t.Fatal(err)
		}
		got, err := pull.RecvMode(ctx, sockets.Character)
		if err != nil || !slices.Equal(got.([]string), tc.want) {
			t.Fatalf("%q received as %q, %v; want %q", tc.send, got, err, tc.want)
		}
	}
}

// TestParseModesByDirection checks that "s" is serial for a send and
// ambiguous for a receive, and that the integer codes differ by direction.
func TestParseModesByDirection(t *testing.T) {
	t.Parallel()
	if m, err := sockets.ParseSendMode("s"); err != nil || m != sockets.Serial {
		t.Fatalf(`ParseSendMode("s") = %v, %v`, m, err)
	}
	if m, err := sockets.ParseSendMode("2"); err != nil || m != sockets.Raw {
		t.Fatalf(`ParseSendMode("2") = %v, %v`, m, err)
	}
	if _, err := sockets.ParseRecvMode("s"); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf(`ParseRecvMode("s"): %v`, err)
	}
	if m, err := sockets.ParseRecvMode("2"); err != nil || m != sockets.Character {
		t.Fatalf(`ParseRecvMode("2") = %v, %v`, m, err)
	}
	if m, err := sockets.ParseMode("st"); err != nil || m != sockets.String {
		t.Fatalf(`ParseMode("st") = %v, %v`, m, err)
	}
	if _, err := sockets.ParseSendMode("double"); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf(`ParseSendMode("double"): %v`, err)
	}
}

// TestWithSendMode checks a socket's default send mode: Raw by option, a
// Mode given to Send still wins, contexts inherit it, and only Serial and
// Raw are accepted.
func TestWithSendMode(t *testing.T) {
	t.Parallel()
	push, pull := pushPullPair(t, sockets.WithSendMode(sockets.Raw))
	ctx := ctxT(t)
	if push.SendMode() != sockets.Raw {
		t.Fatalf("SendMode %v", push.SendMode())
	}
	if err := push.Send(ctx, "hi"); err != nil {
		t.Fatal(err)
	}
	if err := push.Send(ctx, "hi", sockets.Serial); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hi\x00", "\xd9\xd9\xf7\x62hi"} {
		m, err := pull.Recv(ctx)
		if err != nil || string(m.Body) != want {
			t.Fatalf("body %q, %v; want %q", m.Body, err, want)
		}
	}

	rep, req := open(t, sockets.Rep, sockets.WithSendMode(sockets.Raw)), open(t, sockets.Req)
	connect(t, rep, req, fmt.Sprintf("inproc://mode-ctx-%d", seq.Add(1)))
	rc := mustContext(t, rep)
	if rc.SendMode() != sockets.Raw {
		t.Fatalf("context SendMode %v", rc.SendMode())
	}
	if err := req.Send(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(ctx, "answer"); err != nil {
		t.Fatal(err)
	}
	if got, err := sockets.RecvAs[string](ctx, req, sockets.String); err != nil || got != "answer" {
		t.Fatalf("context reply %q, %v", got, err)
	}

	for _, m := range []sockets.Mode{sockets.Double, sockets.Character, 0} {
		if s, err := sockets.New(sockets.Push, sockets.WithSendMode(m)); !errors.Is(err, nanoact.ErrInvalid) {
			if s != nil {
				_ = s.Close()
			}
			t.Fatalf("WithSendMode(%v): %v, want ErrInvalid", m, err)
		}
	}
}

// TestPubSubTopicWithSendMode is the pub/sub trap: a sub with a topic
// never matches a serial payload, which starts with the serial marker; a
// pub opened WithSendMode(Raw) reaches it without repeating Raw. pub drops
// what it sends before its connection is ready, so the pair of sends is
// repeated until one arrives: the serial one never does, and the raw one
// sent after it on the same connection does.
func TestPubSubTopicWithSendMode(t *testing.T) {
	t.Parallel()
	pub, sub := open(t, sockets.Pub, sockets.WithSendMode(sockets.Raw)), open(t, sockets.Sub)
	connect(t, pub, sub, fmt.Sprintf("inproc://mode-pub-%d", seq.Add(1)))
	if err := sub.Subscribe("news"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	for {
		if err := pub.Send(ctx, "news, serialised", sockets.Serial); err != nil {
			t.Fatal(err)
		}
		if err := pub.Send(ctx, []string{"news", "raw"}); err != nil {
			t.Fatal(err)
		}
		wait, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		got, err := sockets.RecvAs[[]string](wait, sub, sockets.Character)
		cancel()
		if errors.Is(err, nanoact.ErrTimedOut) && ctx.Err() == nil {
			continue
		}
		if err != nil || !slices.Equal(got, []string{"news", "raw"}) {
			t.Fatalf("sub received %q, %v", got, err)
		}
		return
	}
}

// TestNewCBORLimits checks that decoding limits set through the sockets
// API apply at a receive, as a ConvertError, and that bad limits fail.
func TestNewCBORLimits(t *testing.T) {
	t.Parallel()
	if _, err := sockets.NewCBOR(sockets.DecodeLimits{MaxArrayElements: 1}); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf("NewCBOR(MaxArrayElements 1): %v", err)
	}
	cd, err := sockets.NewCBOR(sockets.DecodeLimits{MaxArrayElements: 16})
	if err != nil {
		t.Fatal(err)
	}
	push := open(t, sockets.Push)
	pull := open(t, sockets.Pull, sockets.WithCodec(cd))
	connect(t, pull, push, fmt.Sprintf("inproc://mode-limits-%d", seq.Add(1)))
	ctx := ctxT(t)
	for _, n := range []int{16, 17} {
		if err := push.Send(ctx, make([]int, n)); err != nil {
			t.Fatal(err)
		}
		v, err := sockets.RecvAs[[]int](ctx, pull)
		var ce *nanoact.ConvertError
		if n == 16 && (err != nil || len(v) != 16) {
			t.Fatalf("16 elements: %v, %v", v, err)
		}
		if n == 17 && (!errors.As(err, &ce) || !strings.Contains(err.Error(), "max number of elements 16")) {
			t.Fatalf("17 elements: %v, %v", v, err)
		}
	}
}
