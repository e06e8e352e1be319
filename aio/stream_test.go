package aio_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// streamPair connects two byte streams over loopback tcp.
func streamPair(t *testing.T) (client, server *sockets.Stream) {
	t.Helper()
	return streamPairAt(t, "tcp://127.0.0.1:0")
}

// streamPairAt connects two byte streams at url (port 0), the client
// dialled with opts.
func streamPairAt(t *testing.T, url string, opts ...sockets.StreamOption) (client, server *sockets.Stream) {
	t.Helper()
	l, err := sockets.ListenStream(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	accepted := aio.Go(func(ctx context.Context) (*sockets.Stream, error) { return l.Accept(ctx) })
	c, err := sockets.DialStream(ctx, l.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := accepted.Value(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c, s
}

// A stream is a Conn without an asynchronous receive: its aios wait on a
// goroutine of their own, with the same results, time-outs and Stop.
func TestAioOnStream(t *testing.T) {
	c, s := streamPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	r := aio.Recv[string](s, aio.Mode(sockets.String))
	if !aio.Unresolved(r) {
		t.Fatal("resolved before anything was sent")
	}
	if _, err := aio.Send(c, "hello", aio.Mode(sockets.Raw)).Value(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Value(ctx); err != nil || v != "hello" {
		t.Fatalf("%q %v", v, err)
	}

	late := aio.Recv[[]byte](s, aio.Timeout(20*time.Millisecond))
	_, err := late.Value(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)

	stopped := aio.Recv[[]byte](s)
	stopped.Stop()
	_, err = stopped.Result()
	wantCode(t, err, nanoact.ErrCanceled)
}

// A stream has no serial mode: aio.Send writes the same raw bytes as the
// stream's own Send, whatever the aio's mode, never CBOR.
func TestAioSendOnStreamIsRaw(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		opts []sockets.StreamOption
		data any
		want string
	}{
		{"tcp/string", "tcp://127.0.0.1:0", nil, "hi", "hi\x00"},
		{"tcp/bytes", "tcp://127.0.0.1:0", nil, []byte{1, 2, 3}, "\x01\x02\x03"},
		{"tcp/int32s", "tcp://127.0.0.1:0", nil, []int32{1, 2}, "\x01\x00\x00\x00\x02\x00\x00\x00"},
		{"ipc/string", "ipc://" + t.TempDir() + "/s.ipc", nil, "hi", "hi\x00"},
		{"ws-text/string", "ws://127.0.0.1:0/s", []sockets.StreamOption{sockets.TextFrames()}, "hi", "hi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := streamPairAt(t, tc.url, tc.opts...)
			ctx := ctxT(t)
			read := func() string {
				b := make([]byte, len(tc.want))
				if _, err := io.ReadFull(streamReader{ctx, s}, b); err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			if err := c.Send(ctx, tc.data); err != nil {
				t.Fatal(err)
			}
			if got := read(); got != tc.want {
				t.Fatalf("Stream.Send wrote %q, want %q", got, tc.want)
			}
			for _, opts := range [][]aio.Option{nil, {aio.Mode(sockets.Serial)}, {aio.Mode(sockets.Raw)}} {
				if _, err := aio.Send(c, tc.data, opts...).Value(ctx); err != nil {
					t.Fatal(err)
				}
				if got := read(); got != tc.want {
					t.Fatalf("aio.Send %v wrote %q, want %q", opts, got, tc.want)
				}
			}
		})
	}
}
