package sockets_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/sockets"
)

// A flood of bad handshakes is counted in full but logged only a burst
// at a time (10,000 rejected connections used to write 5,000 lines).
func TestRejectLogRateLimited(t *testing.T) {
	t.Parallel()
	const n = 100
	log, logs := observed()
	rep := open(t, sockets.Rep, sockets.WithLogger(log))
	l, err := rep.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(l.URL(), "tcp://")
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("GARBAGE!"))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.ReadAll(c) // until the listener hangs up
		_ = c.Close()
	}
	eventually(t, func() bool { v, _ := rep.Stat("reject"); return v == n })
	if lines := logs.FilterMessage("connection rejected in SP handshake").Len(); lines > 10 {
		t.Fatalf("%d rejected connections wrote %d lines, want at most 10", n, lines)
	}
}

// WithMaxConns closes connections over the cap at accept, counts them as
// rejects, and keeps serving the connections it holds.
func TestMaxConnsCap(t *testing.T) {
	t.Parallel()
	log, logs := observed()
	rep := open(t, sockets.Rep, sockets.WithMaxConns(1), sockets.WithLogger(log))
	l, err := rep.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	req := open(t, sockets.Req)
	if _, err := req.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(l.URL(), "tcp://")
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, _ := io.ReadAll(c); len(b) != 0 {
			t.Fatalf("connection over the cap got %q: not closed at accept", b)
		}
		_ = c.Close()
	}
	eventually(t, func() bool { v, _ := l.Stat("reject"); return v == 20 })
	if lines := logs.FilterMessage("connection over the listener's cap: closed").Len(); lines < 1 || lines > 10 {
		t.Fatalf("%d log lines for 20 refused connections", lines)
	}
	ctx := ctxT(t)
	go func() {
		if m, err := rep.Recv(ctx); err == nil {
			_ = rep.Send(ctx, m.Body, sockets.Raw)
		}
	}()
	if err := req.Send(ctx, []byte("ping"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	if got, err := sockets.RecvAs[[]byte](ctx, req, sockets.Raw); err != nil || string(got) != "ping" {
		t.Fatalf("honest peer got %q, %v", got, err)
	}
}

// WithIdleTimeout closes a connection that stays silent, logs it, and the
// dialer comes back.
func TestIdleTimeoutCloses(t *testing.T) {
	t.Parallel()
	log, logs := observed()
	pull := open(t, sockets.Pull, sockets.WithIdleTimeout(100*time.Millisecond), sockets.WithLogger(log))
	l, err := pull.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	push := open(t, sockets.Push, sockets.WithReconnect(10*time.Millisecond, 0))
	if _, err := push.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	eventually(t, logged(logs, "connection idle: closed"))
	// A message may meet a connection just closed for idling: push drops
	// it then, as NNG does, so try a few times.
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := push.Send(ctx, []byte("back"), sockets.Raw)
		var got []byte
		if err == nil {
			got, err = sockets.RecvAs[[]byte](ctx, pull, sockets.Raw)
		}
		cancel()
		if err == nil && string(got) == "back" {
			return
		}
		if i == 9 {
			t.Fatalf("got %q, %v", got, err)
		}
	}
}

// The receive budget is readable and settable from here.
func TestRecvBudgetExposed(t *testing.T) {
	t.Parallel()
	st := sockets.RecvBudgetStats()
	if st.Limit < 64<<20 || st.Held < 0 {
		t.Fatalf("budget %+v", st)
	}
	if old := sockets.SetRecvBudget(st.Limit); old != st.Limit {
		t.Fatalf("SetRecvBudget returned %d, want %d", old, st.Limit)
	}
}
