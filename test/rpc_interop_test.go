package test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

// nngcat's req against an rpc.Server in raw mode, and rpc.Request against
// nngcat's rep.
func TestRPCInterop(t *testing.T) {
	t.Run("nngcat-req/rpc-server", func(t *testing.T) {
		testkit.Nngcat(t)
		t.Parallel()
		srv, err := rpc.NewServer(func(_ context.Context, q []byte) ([]byte, error) {
			if string(q) == "fail" {
				return nil, errors.New("asked to fail")
			}
			return append([]byte("re:"), bytes.ToUpper(q)...), nil
		}, rpc.WithListen("tcp://127.0.0.1:0"), rpc.WithWorkers(2),
			rpc.WithRPCOptions(rpc.RecvMode(sockets.Raw), rpc.SendMode(sockets.Raw)))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		for _, c := range []struct{ data, want string }{
			{"hello", "re:HELLO"},
			{"fail", "\x00"}, // nanonext's error reply, as C and R peers see it
		} {
			cat := startNngcat(t, nil, args("--req", "--dial", srv.URL(), "--raw", "--data", c.data, "--recv-timeout", 10)...)
			wantBytes(t, "reply to "+c.data, cat.wait(t), []byte(c.want))
		}
	})
	t.Run("rpc-request/nngcat-rep", func(t *testing.T) {
		testkit.Nngcat(t)
		t.Parallel()
		req := open(t, sockets.Req)
		addr := attach(t, req, transports[0], true)
		cat := startNngcat(t, nil, args("--rep", addr, "--raw", "--data", "answer", "--count", 1)...)
		ctx := ctxT(t)
		c, err := req.Context()
		if err != nil {
			t.Fatal(err)
		}
		got, err := rpc.Request[string](c, "question", rpc.SendMode(sockets.Raw), rpc.RecvMode(sockets.Raw)).Value(ctx)
		if err != nil || got != "answer" {
			t.Fatalf("reply %q %v", got, err)
		}
		wantBytes(t, "request nngcat received", cat.wait(t), []byte("question\x00"))
	})
}
