package sockets_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// spPeer connects to a pull socket's listener over network (tcp, unix)
// as a push peer would, from local (nil: any), and does the SP handshake.
func spPeer(t *testing.T, network, addr string, local net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
	c, err := d.Dial(network, addr)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte{0, 'S', 'P', 0, 0, 0x50, 0, 0}); err != nil { // push
		t.Fatal(err)
	}
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("SP handshake: %v", err)
	}
	if hdr[5] != 0x51 { // pull
		t.Fatalf("peer header % x", hdr)
	}
	return c
}

// wantClosed waits for c to be closed by the far end.
func wantClosed(t *testing.T, c net.Conn) {
	t.Helper()
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a refused connection: %d bytes, %v; want it closed", n, err)
	}
}

// A veto refuses peers by address over tcp: the refused peer sees its
// connection closed after the handshake, the refusal is counted and
// logged with the peer's address, and the socket goes on serving others.
func TestPipeVetoByAddress(t *testing.T) {
	t.Parallel()
	denied := net.ParseIP("127.0.0.2")
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("no 127.0.0.2 on this system: %v", err)
	} else {
		_ = ln.Close()
	}
	var judged atomic.Int64
	log, logs := observed()
	pull := open(t, sockets.Pull, sockets.WithLogger(log), sockets.WithPipeVeto(func(p *sockets.Pipe) error {
		judged.Add(1)
		a, err := p.RemoteAddr()
		if err != nil {
			return err
		}
		host, _, _ := net.SplitHostPort(a)
		if net.ParseIP(host).Equal(denied) {
			return fmt.Errorf("address %s denied", host)
		}
		return nil
	}))
	l, err := pull.Listen("tcp://0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.URL()[strings.LastIndex(l.URL(), ":")+1:]

	bad := spPeer(t, "tcp", "127.0.0.2:"+port, &net.TCPAddr{IP: denied})
	wantClosed(t, bad)
	eventually(t, func() bool { return stat(t, pull, "reject_veto") == 1 })
	if stat(t, pull, "reject") != 1 || stat(t, l, "reject") != 1 || stat(t, pull, "pipes") != 0 || stat(t, l, "accept") != 0 {
		t.Fatalf("socket %v listener %v", pull.Stats(), l.Stats())
	}
	refusals := logs.FilterMessage("connection refused by the pipe veto: closed").All()
	if len(refusals) != 1 || refusals[0].Level != zapcore.WarnLevel ||
		!strings.HasPrefix(refusals[0].ContextMap()["remote"].(string), "127.0.0.2:") ||
		!strings.Contains(refusals[0].ContextMap()["error"].(string), "denied") {
		t.Fatalf("refusal log %v", refusals)
	}

	// Others are served: a push from 127.0.0.1 gets its messages through.
	push := open(t, sockets.Push)
	if _, err := push.Dial("tcp://127.0.0.1:"+port, sockets.Sync); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := push.Send(ctx, "admitted"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, pull); err != nil || v != "admitted" {
		t.Fatalf("recv %q %v", v, err)
	}
	if stat(t, pull, "reject_veto") != 1 || stat(t, l, "accept") != 1 || judged.Load() != 2 {
		t.Fatalf("socket %v listener %v, %d judged", pull.Stats(), l.Stats(), judged.Load())
	}
}

// A veto refuses peers by their user id over ipc (SO_PEERCRED).
func TestPipeVetoByUID(t *testing.T) {
	t.Parallel()
	var allowed atomic.Int64
	allowed.Store(int64(os.Getuid()) + 1) // nobody we are
	pull := open(t, sockets.Pull, sockets.WithPipeVeto(func(p *sockets.Pipe) error {
		c, err := p.PeerCred()
		if err != nil {
			return err
		}
		if int64(c.UID) != allowed.Load() {
			return fmt.Errorf("uid %d not allowed", c.UID)
		}
		return nil
	}))
	path := testkit.IPCPath(t)
	l, err := pull.Listen("ipc://" + path)
	if err != nil {
		t.Fatal(err)
	}
	wantClosed(t, spPeer(t, "unix", path, nil))
	eventually(t, func() bool { return stat(t, pull, "reject_veto") == 1 })

	allowed.Store(int64(os.Getuid()))
	push := open(t, sockets.Push)
	if _, err := push.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := push.Send(ctx, "same uid"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, pull); err != nil || v != "same uid" {
		t.Fatalf("recv %q %v", v, err)
	}
	if stat(t, pull, "reject_veto") != 1 || stat(t, pull, "pipes") != 1 || stat(t, l, "reject") != 1 {
		t.Fatalf("socket %v listener %v", pull.Stats(), l.Stats())
	}
}

// Refused connections raise no pipe events, and a dialer whose
// connections are refused keeps redialing; a veto that panics refuses, and
// is logged at Error. Over every transport.
func TestPipeVetoEvents(t *testing.T) {
	t.Parallel()
	for tname, url := range transports(t) {
		t.Run(tname, func(t *testing.T) {
			log, logs := observed()
			var calls atomic.Int64
			pull := open(t, sockets.Pull, sockets.WithLogger(log), sockets.WithPipeVeto(func(p *sockets.Pipe) error {
				if calls.Add(1) <= 2 {
					panic("veto bug")
				}
				if _, err := p.Stat("rx_msgs"); err != nil {
					return err
				}
				return nil
			}))
			events := make(chan sockets.PipeEvent, 16)
			stop, err := pull.WatchPipes(func(ev sockets.PipeEvent) { events <- ev })
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			l, err := pull.Listen(url)
			if err != nil {
				t.Fatal(err)
			}
			push := open(t, sockets.Push, sockets.WithReconnect(time.Millisecond, 10*time.Millisecond))
			if _, err := push.Dial(l.URL()); err != nil {
				t.Fatal(err)
			}
			// A message sent before the peer admits a connection may go
			// down a refused one and be lost (as in NNG): wait.
			eventually(t, func() bool { return stat(t, pull, "pipes") == 1 })
			ctx := ctxT(t)
			if err := push.Send(ctx, "third time"); err != nil {
				t.Fatal(err)
			}
			if v, err := sockets.RecvAs[string](ctx, pull); err != nil || v != "third time" {
				t.Fatalf("recv %q %v", v, err)
			}
			ev := <-events
			if !ev.Added || len(events) != 0 || stat(t, pull, "reject_veto") != 2 || stat(t, pull, "pipes") != 1 {
				t.Fatalf("event %+v (%d more), stats %v", ev, len(events), pull.Stats())
			}
			if n := logs.FilterMessage("pipe veto panicked").FilterLevelExact(zapcore.ErrorLevel).Len(); n != 2 {
				t.Fatalf("%d panic log lines", n)
			}
		})
	}
}

// Each connection's arrival and departure is logged once with the peer's
// address: at Info on the dialing side, which redials, at Debug on the
// listening side.
func TestPipeLifecycleLogged(t *testing.T) {
	t.Parallel()
	slog, slogs := observed()
	clog, clogs := observed()
	pull := open(t, sockets.Pull, sockets.WithLogger(slog))
	l, err := pull.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	push := open(t, sockets.Push, sockets.WithLogger(clog), sockets.WithReconnect(time.Millisecond, 10*time.Millisecond))
	if _, err := push.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return stat(t, pull, "pipes") == 1 && stat(t, push, "pipes") == 1 })
	first := pull.PipeIDs()[0]
	p, err := pull.Pipe(first)
	if err != nil {
		t.Fatal(err)
	}
	clientAddr, _ := p.RemoteAddr()
	serverAddr := strings.TrimPrefix(l.URL(), "tcp://")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// The push redials: a second connection.
	eventually(t, func() bool { ids := pull.PipeIDs(); return len(ids) == 1 && ids[0] != first })
	eventually(t, func() bool { return clogs.FilterMessage("connected").Len() == 2 })

	check := func(name string, got []observer.LoggedEntry, n int, lvl zapcore.Level, remote string) {
		t.Helper()
		if len(got) != n {
			t.Fatalf("%s: %d lines, want %d: %v", name, len(got), n, got)
		}
		for _, e := range got {
			if e.Level != lvl || e.ContextMap()["remote"] == "" || (remote != "" && e.ContextMap()["remote"] != remote) {
				t.Fatalf("%s: %v %v", name, e.Level, e.ContextMap())
			}
		}
	}
	eventually(t, func() bool { return slogs.FilterMessage("connection closed").Len() == 1 })
	check("server accepted", slogs.FilterMessage("connection accepted").All(), 2, zapcore.DebugLevel, "")
	check("server closed", slogs.FilterMessage("connection closed").All(), 1, zapcore.DebugLevel, clientAddr)
	check("client connected", clogs.FilterMessage("connected").All(), 2, zapcore.InfoLevel, serverAddr)
	check("client lost", clogs.FilterMessage("connection lost; redialing").All(), 1, zapcore.InfoLevel, serverAddr)
	if n := clogs.FilterMessage("connection closed").Len(); n != 0 {
		t.Fatalf("%d client close lines before Close", n)
	}
	_ = push.Close()
	eventually(t, func() bool { return clogs.FilterMessage("connection closed").Len() == 1 })
	check("client closed", clogs.FilterMessage("connection closed").All(), 1, zapcore.DebugLevel, serverAddr)
	check("client lost after Close", clogs.FilterMessage("connection lost; redialing").All(), 1, zapcore.InfoLevel, serverAddr)
}
