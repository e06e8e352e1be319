package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

// Requests, Errors, Restarts and WatchRequests count what the workers
// handled: a reply, an error, a panic (and its worker's restart).
func TestServerCountersAndWatch(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv, err := rpc.NewServer(func(_ context.Context, s string) (string, error) {
		switch s {
		case "boom":
			panic("handler exploded")
		case "bad":
			return "", errors.New("bad request")
		}
		return "re: " + s, nil
	}, rpc.WithListen(fmt.Sprintf("inproc://watch-%d", seq.Add(1))), rpc.WithWorkers(1), rpc.WithRestartBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var mu sync.Mutex
	var got []rpc.RequestDone
	stop := srv.WatchRequests(func(r rpc.RequestDone) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	})
	req := newReq(t, srv.URL())
	for _, s := range []string{"hi", "bad", "boom", "again"} {
		if err := req.Send(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := sockets.RecvAs[string](ctx, req); (err == nil) != (s == "hi" || s == "again") {
			t.Fatalf("%s: %v", s, err)
		}
	}
	stop()
	if err := req.Send(ctx, "unwatched"); err != nil {
		t.Fatal(err)
	}
	if _, err := sockets.RecvAs[string](ctx, req); err != nil {
		t.Fatal(err)
	}
	if n, e, r := srv.Requests(), srv.Errors(), srv.Restarts(); n != 5 || e != 2 || r != 1 {
		t.Fatalf("requests %d errors %d restarts %d, want 5 2 1", n, e, r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("watched %d requests, want 4", len(got))
	}
	var pe *rpc.PanicError
	if got[0].Err != nil || got[1].Err == nil || !errors.As(got[2].Err, &pe) || got[3].Err != nil {
		t.Fatalf("errors %v %v %v %v", got[0].Err, got[1].Err, got[2].Err, got[3].Err)
	}
	for _, r := range got {
		if r.Latency <= 0 {
			t.Fatalf("latency %v", r.Latency)
		}
	}
}
