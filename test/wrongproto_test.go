package test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// TestWrongProtocolPeer connects nngcat's push (which wants a pull peer) to
// our rep (which wants a req peer), nngcat dialing our listener and our
// dialer reaching nngcat's listener. The SP handshake must refuse the
// connection: our rep never has a pipe and receives nothing, and nngcat's
// push never finds a peer for its message. Then a correct peer (nngcat's
// req) at the same address is served as usual.
//
// On every transport (all are nanoact's own) our side refuses the peer and
// logs it, which the test waits for.
func TestWrongProtocolPeer(t *testing.T) {
	forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
		core, logs := observer.New(zap.DebugLevel)
		rep := open(t, sockets.Rep, sockets.WithLogger(zap.New(core)))
		addr := attach(t, rep, tr, nngListens)
		bad := startNngcat(t, nil, args("--push", addr, "--data", "wrong", "--send-timeout", 1)...)

		rejected := func() bool {
			for _, e := range logs.FilterMessage("connection rejected in SP handshake").All() {
				if err, _ := e.ContextMap()["error"].(string); strings.Contains(err, "Protocol error") {
					return true
				}
			}
			return false
		}
		deadline := time.Now().Add(opLimit)
		for !rejected() && !bad.Exited() {
			if rep.Pipes() != 0 {
				t.Fatalf("rep accepted nngcat's push: %d pipe(s)", rep.Pipes())
			}
			if time.Now().After(deadline) {
				t.Fatalf("nngcat %s still running after %v and no rejection logged", bad, opLimit)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if !rejected() {
			t.Fatalf("nngcat %s exited (%v, stderr %q) before our rep logged the rejection", bad, bad.Err(), bad.ErrOut.Bytes())
		}
		bad.Stop()
		if n := rep.Pipes(); n != 0 {
			t.Fatalf("rep accepted nngcat's push: %d pipe(s)", n)
		}
		ctx := ctxT(t)
		if m, err := rep.Recv(sockets.NonBlock(ctx)); err == nil {
			t.Fatalf("rep received %q from nngcat's push", m.Body)
		} else {
			wantCode(t, err, nanoact.ErrTryAgain)
		}

		good := startNngcat(t, nil, args("--req", addr, "--raw", "--data", "right", "--recv-timeout", 10)...)
		wantBytes(t, "request after the wrong peer", recvFrom(t, ctx, rep, good), []byte("right"))
		send(t, ctx, rep, []byte("served"))
		wantBytes(t, "reply nngcat printed", good.wait(t), []byte("served"))
	})
}
