package sockets_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact/sockets"
)

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(core), logs
}

func logged(logs *observer.ObservedLogs, msg string) func() bool {
	return func() bool { return logs.FilterMessage(msg).Len() > 0 }
}

// A message over recv-size-max closes that connection only: it is logged
// with the peer's address, the socket lives on, and the dialer reconnects.
func TestRecvSizeMaxClosesOneConnection(t *testing.T) {
	t.Parallel()
	for _, tname := range []string{"tcp", "ipc"} {
		t.Run(tname, func(t *testing.T) {
			log, logs := observed()
			pull := open(t, sockets.Pull, sockets.WithRecvSizeMax(1024), sockets.WithLogger(log))
			l, err := pull.Listen(transports(t)[tname])
			if err != nil {
				t.Fatal(err)
			}
			push := open(t, sockets.Push, sockets.WithReconnect(10*time.Millisecond, 0))
			other := open(t, sockets.Push)
			for _, s := range []*sockets.Socket{push, other} {
				if _, err := s.Dial(l.URL(), sockets.Sync); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, func() bool { return pull.Pipes() == 2 })
			ctx := ctxT(t)
			if err := push.Send(ctx, make([]byte, 2048), sockets.Raw); err != nil {
				t.Fatal(err)
			}
			eventually(t, logged(logs, "message over recv-size-max: connection closed"))
			e := logs.FilterMessage("message over recv-size-max: connection closed").All()[0]
			if e.ContextMap()["size"] != uint64(2048) || e.ContextMap()["remote"] == "" {
				t.Fatalf("log fields %v", e.ContextMap())
			}
			// The other connection never dropped; the dialer comes back.
			eventually(t, func() bool { return pull.Pipes() == 2 && push.Pipes() == 1 })
			if err := push.Send(ctx, []byte("small"), sockets.Raw); err != nil {
				t.Fatal(err)
			}
			if err := other.Send(ctx, []byte("other"), sockets.Raw); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for range 2 {
				b, err := sockets.RecvAs[[]byte](ctx, pull, sockets.Raw)
				if err != nil {
					t.Fatal(err)
				}
				got[string(b)] = true
			}
			if !got["small"] || !got["other"] {
				t.Fatalf("received %v", got)
			}
		})
	}
}

// A peer that connects and never completes the SP handshake is dropped
// when the handshake time-out runs out, and logged.
func TestHandshakeStallDropped(t *testing.T) {
	t.Parallel()
	log, logs := observed()
	rep := open(t, sockets.Rep, sockets.WithHandshakeTimeout(100*time.Millisecond), sockets.WithLogger(log))
	l, err := rep.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", l.URL()[len("tcp://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// The server sends its half of the handshake, then hangs up on us.
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if len(b) != 8 || !bytes.Equal(b[:4], []byte{0, 'S', 'P', 0}) {
		t.Fatalf("handshake bytes %q", b)
	}
	eventually(t, logged(logs, "connection rejected in SP handshake"))
	if rep.Pipes() != 0 {
		t.Fatalf("stalled peer became a pipe")
	}
}

// A peer speaking the wrong protocol is rejected and logged, and the
// socket keeps serving a right one.
func TestWrongProtocolRejected(t *testing.T) {
	t.Parallel()
	log, logs := observed()
	rep := open(t, sockets.Rep, sockets.WithLogger(log))
	l, err := rep.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	push := open(t, sockets.Push)
	_, err = push.Dial(l.URL(), sockets.Sync)
	if err == nil {
		t.Fatal("push dialled a rep listener without error")
	}
	eventually(t, logged(logs, "connection rejected in SP handshake"))
	req := open(t, sockets.Req)
	if _, err := req.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := req.Send(ctx, "still here?"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, rep); err != nil || v != "still here?" {
		t.Fatalf("got %q %v", v, err)
	}
	if rep.Pipes() != 1 {
		t.Fatalf("rep has %d pipes", rep.Pipes())
	}
}

// 10,000 connect/disconnect cycles leave no goroutine and no file
// descriptor behind. tcp runs fewer, to keep loopback's ephemeral ports out
// of TIME_WAIT exhaustion on shared machines.
func TestConnectDisconnectCycles(t *testing.T) {
	for tname, n := range map[string]int{"ipc": 10000, "tcp": 1000} {
		if testing.Short() {
			n = 200
		}
		t.Run(tname, func(t *testing.T) {
			t.Parallel()
			rep := open(t, sockets.Rep)
			l, err := rep.Listen(transports(t)[tname])
			if err != nil {
				t.Fatal(err)
			}
			req := open(t, sockets.Req)
			baseG, baseFD := runtime.NumGoroutine(), fds(t)
			start := time.Now()
			for i := range n {
				d, err := req.Dial(l.URL(), sockets.Sync)
				if err != nil {
					t.Fatalf("cycle %d: %v", i, err)
				}
				if i%1000 == 0 { // now and then, use the connection
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err := req.Send(ctx, i); err != nil {
						t.Fatal(err)
					}
					if _, err := rep.Recv(ctx); err != nil {
						t.Fatal(err)
					}
					// Answered, so that the request is not sent again on
					// every later connection (req fails over, as NNG's),
					// which would fill rep's queue.
					if err := rep.Send(ctx, i); err != nil {
						t.Fatal(err)
					}
					if _, err := req.Recv(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if err := d.Close(); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%d cycles over %s in %v", n, tname, time.Since(start))
			deadline := time.Now().Add(10 * time.Second)
			for {
				g, fd := runtime.NumGoroutine(), fds(t)
				if g <= baseG+2 && fd <= baseFD+2 && rep.Pipes() == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after %d cycles: goroutines %d (was %d), fds %d (was %d), pipes %d", n, g, baseG, fd, baseFD, rep.Pipes())
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func fds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// Close is bounded even with a busy peer and blocked operations.
func TestCloseIsBounded(t *testing.T) {
	t.Parallel()
	for tname, url := range transports(t) {
		t.Run(tname, func(t *testing.T) {
			push, pull := open(t, sockets.Push), open(t, sockets.Pull)
			connect(t, pull, push, url)
			ctx := context.Background()
			// Fill every queue: nobody receives.
			big := make([]byte, 64<<10)
			for push.Send(sockets.NonBlock(ctx), big, sockets.Raw) == nil {
			}
			blocked := make(chan error, 1)
			go func() { blocked <- push.Send(ctx, big, sockets.Raw) }()
			done := make(chan error, 1)
			go func() { done <- push.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not return within 5s")
			}
			// The blocked send returns: queued, or aborted with ErrClosed.
			select {
			case <-blocked:
			case <-time.After(5 * time.Second):
				t.Fatal("blocked send still blocked after Close")
			}
		})
	}
}

// Raw sockets expose the protocol headers, so that devices can forward.
func TestRawReqRep(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	// A cooked req against a raw rep that echoes with the header it got.
	req := open(t, sockets.Req)
	rawRep := open(t, sockets.Rep, sockets.WithRaw())
	connect(t, rawRep, req, fmt.Sprintf("inproc://raw-rep-%d", seq.Add(1)))
	if !rawRep.Raw() {
		t.Fatal("Raw() false")
	}
	if err := req.Send(ctx, "ping", sockets.Raw); err != nil {
		t.Fatal(err)
	}
	m, err := rawRep.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Header: the 4-byte pipe id, then the request id with its high bit set.
	if len(m.Header) != 8 || binary.BigEndian.Uint32(m.Header) != m.Pipe || m.Header[4]&0x80 == 0 {
		t.Fatalf("raw rep header % x (pipe %d)", m.Header, m.Pipe)
	}
	reply := &sockets.Msg{Header: m.Header, Body: []byte("pong\x00")}
	if err := rawRep.SendMsg(ctx, reply); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, req, sockets.Raw); err != nil || v != "pong" {
		t.Fatalf("req got %q %v", v, err)
	}

	// A raw req against a cooked rep: the caller writes the request id.
	rawReq := open(t, sockets.Req, sockets.WithRaw())
	rep := open(t, sockets.Rep)
	connect(t, rep, rawReq, fmt.Sprintf("inproc://raw-req-%d", seq.Add(1)))
	hdr := binary.BigEndian.AppendUint32(nil, 0x80000042)
	if err := rawReq.SendMsg(ctx, &sockets.Msg{Header: hdr, Body: []byte("q")}); err != nil {
		t.Fatal(err)
	}
	if _, err := rep.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rep.Send(ctx, []byte("a"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	r, err := rawReq.Recv(ctx)
	if err != nil || !bytes.Equal(r.Header, hdr) || string(r.Body) != "a" {
		t.Fatalf("raw req got header % x body %q err %v", r.Header, r.Body, err)
	}
	// Contexts-free raw sockets never give ErrState.
	if _, err := rawReq.Recv(sockets.NonBlock(ctx)); err == nil {
		t.Fatal("expected try again")
	}
}

func TestIPCPathInTempDir(t *testing.T) {
	t.Parallel()
	// A unix:// alias listens on a file path like ipc://.
	path := filepath.Join(t.TempDir(), "alias.sock")
	pair1, pair2 := open(t, sockets.Pair), open(t, sockets.Pair)
	connect(t, pair1, pair2, "unix://"+path)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("socket file: %v", err)
	}
	// pair refuses a second peer.
	third := open(t, sockets.Pair)
	if _, err := third.Dial("unix://"+path, sockets.Sync); err == nil {
		eventually(t, func() bool { return third.Pipes() == 0 })
	}
	if pair1.Pipes() != 1 {
		t.Fatalf("pair accepted a second peer: %d pipes", pair1.Pipes())
	}
}

// Flush, then Close, loses nothing that was queued.
func TestFlushBeforeClose(t *testing.T) {
	t.Parallel()
	for _, tname := range []string{"inproc", "tcp", "ipc"} {
		t.Run(tname, func(t *testing.T) {
			pull := open(t, sockets.Pull)
			push, err := sockets.New(sockets.Push)
			if err != nil {
				t.Fatal(err)
			}
			if err := sockets.Set(push, sockets.SendBuffer, 256); err != nil {
				t.Fatal(err)
			}
			connect(t, pull, push, transports(t)[tname])
			ctx := ctxT(t)
			for i := range 100 { // fits the receiver's queue: nobody reads until after Close
				if err := push.Send(ctx, int32(i), sockets.Raw); err != nil {
					t.Fatal(err)
				}
			}
			if err := push.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := push.Close(); err != nil {
				t.Fatal(err)
			}
			for i := range 100 { // fits the receiver's queue: nobody reads until after Close
				v, err := sockets.RecvAs[int32](ctx, pull, sockets.Raw)
				if err != nil || v != int32(i) {
					t.Fatalf("message %d: %v %v", i, v, err)
				}
			}
		})
	}
}

// A req/rep device (raw rep forwarding to raw req) between a requester and
// a replier over tcp: the reply's backtrace has two hops, and each hop
// crosses a transport that delivers the first word apart from the rest.
func TestReqRepDevice(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	front := open(t, sockets.Rep, sockets.WithRaw())
	back := open(t, sockets.Req, sockets.WithRaw())
	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	connect(t, front, req, "tcp://127.0.0.1:0")
	connect(t, rep, back, "tcp://127.0.0.1:0")
	done := make(chan struct{})
	forward := func(from, to *sockets.Socket) {
		for {
			m, err := from.Recv(context.Background())
			if err != nil {
				return
			}
			if err := to.SendMsg(context.Background(), m); err != nil {
				m.Free()
				return
			}
		}
	}
	go func() { forward(front, back); done <- struct{}{} }()
	go func() { forward(back, front); done <- struct{}{} }()
	go func() {
		for {
			q, err := sockets.RecvAs[string](context.Background(), rep)
			if err != nil {
				return
			}
			_ = rep.Send(context.Background(), "re: "+q)
		}
	}()
	for i := range 5 {
		q := fmt.Sprintf("question %d", i)
		if err := req.Send(ctx, q); err != nil {
			t.Fatal(err)
		}
		if a, err := sockets.RecvAs[string](ctx, req); err != nil || a != "re: "+q {
			t.Fatalf("answer %q %v", a, err)
		}
	}
	_ = front.Close()
	_ = back.Close()
	<-done
	<-done
}

// Conn's doc names its implementations; they must stay so.
var (
	_ sockets.Conn = (*sockets.Socket)(nil)
	_ sockets.Conn = (*sockets.Context)(nil)
	_ sockets.Conn = (*sockets.Stream)(nil)
)
