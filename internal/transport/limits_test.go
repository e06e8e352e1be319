package transport_test

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol/pull"
	"go.nanomsg.org/mangos/v3/protocol/push"

	"github.com/nanoact/nanoact/internal/transport"
)

// withBudget sets the process-wide receive budget for one test and
// restores it at cleanup. Tests that use it do not run in parallel.
func withBudget(t *testing.T, n int64) {
	t.Helper()
	old := transport.SetRecvBudget(n)
	t.Cleanup(func() { transport.SetRecvBudget(old) })
}

// spConn dials l's bound address in listen URL url's scheme (tcp, ipc,
// tls+tcp) and completes the SP handshake as pair0, or as proto if given.
func spConn(t *testing.T, l mangos.Listener, url string, proto byte) net.Conn {
	t.Helper()
	c := rawDial(t, l)
	if strings.HasPrefix(url, "tls+tcp") {
		cfg := clientTLS()
		cfg.ServerName = "127.0.0.1"
		c = tls.Client(c, cfg)
	}
	_, err := c.Write([]byte{0, 'S', 'P', 0, 0, proto, 0, 0})
	must(t, err)
	var in [8]byte
	_, err = io.ReadFull(c, in[:])
	must(t, err)
	return c
}

// frameHead is a frame's length prefix on url's transport.
func frameHead(url string, n uint64) []byte {
	var b []byte
	if strings.HasPrefix(url, "ipc") || strings.HasPrefix(url, "unix") || strings.HasPrefix(url, "abstract") {
		b = append(b, 1)
	}
	return binary.BigEndian.AppendUint64(b, n)
}

// stream writes chunk to c until a write fails or max bytes went, and
// returns how many bytes went.
func stream(c net.Conn, chunk []byte, max int) int {
	sent := 0
	for sent < max {
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Write(chunk)
		sent += n
		if err != nil {
			break
		}
	}
	return sent
}

// waitHeld polls the budget until it holds want bytes: there is no event
// for a pipe having read a given number of bytes.
func waitHeld(t *testing.T, cond func(held int64) bool) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := transport.RecvBudgetStats().Held
		if cond(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("budget holds %d bytes", h)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling: no event exists
	}
}

// TestRecvBudgetLengthLie claims an 8 GiB message on a pipe with no
// receive limit and streams its bytes: the budget closes the pipe after
// a few MiB, the event says so, the budget is given back, and the
// listener serves the next peer.
func TestRecvBudgetLengthLie(t *testing.T) {
	withBudget(t, 16<<20)
	dir := t.TempDir()
	for _, url := range []string{"tcp://127.0.0.1:0", "ipc://" + filepath.Join(dir, "b.sock"), "tls+tcp://127.0.0.1:0"} {
		t.Run(strings.Split(url, ":")[0], func(t *testing.T) {
			rec := newRecorder()
			srv := newSock(t)
			detached := make(chan struct{}, 4)
			srv.SetPipeEventHook(func(ev mangos.PipeEvent, _ mangos.Pipe) {
				if ev == mangos.PipeEventDetached {
					detached <- struct{}{}
				}
			})
			must(t, srv.SetOption(mangos.OptionMaxRecvSize, 0))
			opts := map[string]any{transport.OptionEvents: rec}
			if strings.HasPrefix(url, "tls") {
				opts[mangos.OptionTLSConfig] = serverTLS()
			}
			l, du := listen(t, srv, url, opts)
			before := transport.RecvBudgetStats()
			c := spConn(t, l, url, 0x10)
			_, err := c.Write(frameHead(url, 8<<30))
			must(t, err)
			start := time.Now()
			sent := stream(c, make([]byte, 1<<20), 256<<20)
			took := time.Since(start)
			e := wait(t, rec.budget, "OnRecvBudget event")
			if e.size != 8<<30 || e.limit != 16<<20 || e.url != l.Address() {
				t.Errorf("budget event %+v", e)
			}
			if sent >= 256<<20 {
				t.Fatalf("all %d bytes went through: the pipe was not closed", sent)
			}
			after := transport.RecvBudgetStats()
			if after.Refused <= before.Refused {
				t.Errorf("refusals %d -> %d", before.Refused, after.Refused)
			}
			waitHeld(t, func(h int64) bool { return h == 0 })
			t.Logf("claimed 8 GiB, sent %d MiB before the close (%v); budget peak %d MiB",
				sent>>20, took, after.Peak>>20)
			_ = c.Close()
			wait(t, detached, "detach of the lying pipe") // pair0 takes one peer at a time

			cli := newSock(t)
			if strings.HasPrefix(url, "tls") {
				must(t, cli.DialOptions(du, map[string]any{mangos.OptionTLSConfig: clientTLS()}))
			} else {
				must(t, cli.Dial(du))
			}
			must(t, cli.Send([]byte("honest")))
			got, err := srv.Recv()
			must(t, err)
			if string(got) != "honest" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// TestRecvBudgetWS streams one never-ending websocket message to a ws
// listener with no receive limit: the budget closes it.
func TestRecvBudgetWS(t *testing.T) {
	withBudget(t, 16<<20)
	rec := newRecorder()
	srv := newSock(t)
	must(t, srv.SetOption(mangos.OptionMaxRecvSize, 0))
	l, _ := listen(t, srv, "ws://127.0.0.1:0/lie", map[string]any{transport.OptionEvents: rec})
	ws := wsClient(t, l.Address(), "pair.sp.nanomsg.org")
	w, err := ws.NextWriter(websocket.BinaryMessage)
	must(t, err)
	chunk := make([]byte, 1<<20)
	sent := 0
	for sent < 256<<20 {
		_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(chunk); err != nil {
			break
		}
		sent += len(chunk)
	}
	e := wait(t, rec.budget, "OnRecvBudget event")
	if e.limit != 16<<20 || e.size < 8<<20 {
		t.Errorf("budget event %+v", e)
	}
	if sent >= 256<<20 {
		t.Fatalf("all %d bytes went through: the pipe was not closed", sent)
	}
	waitHeld(t, func(h int64) bool { return h == 0 })
}

// wsClient opens a raw websocket to a ws listener URL.
func wsClient(t *testing.T, url, subprotocol string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{subprotocol}, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial(url, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	must(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

// TestLengthLieCostsWhatWasSent opens many connections that each claim a
// 1 GiB message and send 100 KiB of it: each pipe holds buffers of about
// what arrived (its first 64 KiB and then 128 KiB, charged to the
// budget), not the 1 MiB or more it claimed, and the heap grows
// accordingly.
func TestLengthLieCostsWhatWasSent(t *testing.T) {
	const conns = 64
	withBudget(t, 1<<30)
	// pull takes any number of peers (pair takes one).
	ps, err := pull.NewSocket()
	must(t, err)
	t.Cleanup(func() { _ = ps.Close() })
	must(t, ps.SetOption(mangos.OptionMaxRecvSize, 0))
	l, _ := listen(t, ps, "tcp://127.0.0.1:0", nil)
	base := waitHeld(t, func(h int64) bool { return h == 0 }) // pipes of earlier tests wind down
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	frame := append(frameHead("tcp", 1<<30), make([]byte, 100<<10)...)
	for range conns {
		c := spConn(t, l, "tcp", 0x50) // push0
		_, err := c.Write(frame)
		must(t, err)
	}
	const each = (64 + 128) << 10 // the first 64 KiB, then 128 KiB
	held := waitHeld(t, func(h int64) bool { return h-base >= conns*each })
	if held-base != conns*each {
		t.Errorf("held %d bytes for %d connections, want %d each", held-base, conns, each)
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	grew := int64(m1.HeapInuse) - int64(m0.HeapInuse)
	t.Logf("%d connections claiming 1 GiB and sending 100 KiB: heap in use grew %d KiB (%d KiB each)",
		conns, grew>>10, grew/conns>>10)
	if grew > conns*(512<<10) {
		t.Errorf("heap in use grew %d bytes: more than 512 KiB per connection", grew)
	}
}

// TestMaxConns caps a listener at two connections: the third is closed
// at accept and reported, and a slot freed by a closing pipe is used
// again.
func TestMaxConns(t *testing.T) {
	for _, url := range []string{"tcp://127.0.0.1:0", "ws://127.0.0.1:0/cap"} {
		t.Run(strings.Split(url, ":")[0], func(t *testing.T) {
			rec := newRecorder()
			ps, err := pull.NewSocket()
			must(t, err)
			t.Cleanup(func() { _ = ps.Close() })
			attached := make(chan mangos.Pipe, 8)
			ps.SetPipeEventHook(func(ev mangos.PipeEvent, p mangos.Pipe) {
				if ev == mangos.PipeEventAttached {
					attached <- p
				}
			})
			l, du := listen(t, ps, url, map[string]any{transport.OptionEvents: rec, transport.OptionMaxConns: 2})
			v, err := l.GetOption(transport.OptionMaxConns)
			must(t, err)
			if v != 2 {
				t.Fatalf("max-conns %v", v)
			}
			var pushers []mangos.Socket
			for range 2 {
				s := newPushSock(t)
				must(t, s.Dial(du))
				pushers = append(pushers, s)
				wait(t, attached, "pipe")
			}
			// The third: on tcp closed at accept, on ws refused with 503.
			if strings.HasPrefix(url, "ws") {
				d := websocket.Dialer{Subprotocols: []string{"pull.sp.nanomsg.org"}}
				_, resp, err := d.Dial(l.Address(), nil)
				if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("third ws connection: %v %v", resp, err)
				}
				_ = resp.Body.Close()
			} else {
				c := rawDial(t, l)
				if _, err := readUntilClosed(t, c, 10*time.Second); err != io.EOF && !errors.Is(err, syscallECONNRESET) {
					t.Fatalf("third connection read %v, want it closed", err)
				}
			}
			e := wait(t, rec.connLimit, "OnConnLimit event")
			if e.url != l.Address() || e.err.Error() != "limit 2" {
				t.Errorf("event %+v", e)
			}
			must(t, pushers[0].Close())
			s := newPushSock(t)
			// The slot comes back once the server side closed its pipe;
			// the dialer retries until then.
			must(t, s.SetOption(mangos.OptionReconnectTime, 10*time.Millisecond))
			must(t, s.DialOptions(du, map[string]any{mangos.OptionDialAsynch: true}))
			must(t, s.Send([]byte("third")))
			must(t, ps.SetOption(mangos.OptionRecvDeadline, 10*time.Second))
			got, err := ps.Recv()
			must(t, err)
			if string(got) != "third" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// newPushSock returns a push socket closed at cleanup.
func newPushSock(t *testing.T) mangos.Socket {
	t.Helper()
	s, err := push.NewSocket()
	must(t, err)
	must(t, s.SetOption(mangos.OptionSendDeadline, 10*time.Second))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestIdleTimeout: a peer that handshakes and then sends nothing is
// closed after the idle time-out, reported with OnIdle; one that keeps
// sending is not.
func TestIdleTimeout(t *testing.T) {
	const idle = 400 * time.Millisecond
	dir := t.TempDir()
	for _, url := range []string{"tcp://127.0.0.1:0", "ipc://" + filepath.Join(dir, "i.sock"), "ws://127.0.0.1:0/idle"} {
		t.Run(strings.Split(url, ":")[0], func(t *testing.T) {
			rec := newRecorder()
			srv := newSock(t)
			l, du := listen(t, srv, url, map[string]any{transport.OptionEvents: rec, transport.OptionIdleTimeout: idle})
			v, err := l.GetOption(transport.OptionIdleTimeout)
			must(t, err)
			if v != idle {
				t.Fatalf("idle-timeout %v", v)
			}

			// A chatty peer outlives several idle periods.
			cli := newSock(t)
			must(t, cli.Dial(du))
			tick := time.NewTicker(idle / 20)
			defer tick.Stop()
			end := time.Now().Add(2 * idle)
			for time.Now().Before(end) {
				<-tick.C
				must(t, cli.Send([]byte("tick")))
				_, err := srv.Recv()
				must(t, err)
			}
			select {
			case e := <-rec.idle:
				t.Fatalf("chatty peer closed as idle: %+v", e)
			default:
			}

			// Then it goes quiet.
			start := time.Now()
			e := wait(t, rec.idle, "OnIdle event")
			took := time.Since(start)
			if e.url != l.Address() || took < idle-idle/5 {
				t.Errorf("event %+v after %v", e, took)
			}
			t.Logf("quiet pipe closed %v after its last message (idle time-out %v)", took, idle)
		})
	}
}

// TestIdleTimeoutOptions checks the option's values and that inproc does
// not take it.
func TestIdleTimeoutOptions(t *testing.T) {
	s := newSock(t)
	mu, err := transport.Rewrite("tcp://127.0.0.1:1")
	must(t, err)
	d, err := s.NewDialer(mu, nil)
	must(t, err)
	if err := d.SetOption(transport.OptionIdleTimeout, -time.Second); !errors.Is(err, mangos.ErrBadValue) {
		t.Errorf("negative idle: %v", err)
	}
	if err := d.SetOption(mangos.OptionKeepAliveTime, time.Duration(0)); !errors.Is(err, mangos.ErrBadValue) {
		t.Errorf("zero keep-alive time: %v", err)
	}
	must(t, d.SetOption(mangos.OptionKeepAliveTime, time.Second))
	v, err := d.GetOption(mangos.OptionKeepAliveTime)
	must(t, err)
	if v != time.Second {
		t.Errorf("keep-alive time %v", v)
	}
	mu, err = transport.Rewrite("inproc://idle-opt")
	must(t, err)
	d, err = s.NewDialer(mu, nil)
	must(t, err)
	if err := d.SetOption(transport.OptionIdleTimeout, time.Second); !errors.Is(err, mangos.ErrBadOption) {
		t.Errorf("inproc idle: %v", err)
	}
}

// TestWSKeepAlive: with keep-alive on, a ws listener pings its peers; one
// that never answers (it never reads) is closed after three periods and
// reported, while a nanoact peer, which answers, stays.
func TestWSKeepAlive(t *testing.T) {
	const period = 100 * time.Millisecond
	rec := newRecorder()
	srv, err := pull.NewSocket()
	must(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	must(t, srv.SetOption(mangos.OptionRecvDeadline, 10*time.Second))
	l, du := listen(t, srv, "ws://127.0.0.1:0/ka", map[string]any{
		transport.OptionEvents:     rec,
		mangos.OptionKeepAlive:     true,
		mangos.OptionKeepAliveTime: period,
	})
	good := newPushSock(t)
	must(t, good.Dial(du))
	must(t, good.Send([]byte("hello")))
	_, err = srv.Recv()
	must(t, err)

	start := time.Now()
	mute := wsClient(t, l.Address(), "pull.sp.nanomsg.org") // never reads: never answers a ping
	e := wait(t, rec.idle, "OnIdle event")
	took := time.Since(start)
	if e.err.Error() != "idle "+(3*period).String() {
		t.Errorf("event %+v", e)
	}
	_ = mute.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := mute.NextReader(); err != nil {
			break // closed by the listener
		}
	}
	t.Logf("mute ws peer closed %v after connecting (period %v)", took, period)

	// The answering peer was pinged all along and still works.
	select {
	case e := <-rec.idle:
		t.Fatalf("answering peer closed: %+v", e)
	default:
	}
	must(t, good.Send([]byte("still here")))
	got, err := srv.Recv()
	must(t, err)
	if string(got) != "still here" {
		t.Fatalf("got %q", got)
	}
}

// TestRecvBudgetSettings checks SetRecvBudget, its reset and the default.
func TestRecvBudgetSettings(t *testing.T) {
	if transport.DefaultRecvBudget() < 64<<20 {
		t.Fatalf("default budget %d below its floor", transport.DefaultRecvBudget())
	}
	withBudget(t, 1<<20)
	if got := transport.RecvBudgetStats().Limit; got != 1<<20 {
		t.Fatalf("limit %d", got)
	}
	if old := transport.SetRecvBudget(0); old != 1<<20 {
		t.Fatalf("SetRecvBudget returned %d", old)
	}
	if got := transport.RecvBudgetStats().Limit; got != transport.DefaultRecvBudget() {
		t.Fatalf("limit %d after reset, want the default %d", got, transport.DefaultRecvBudget())
	}
}

// TestMaxConnsWSUpgrade caps a ws listener at two connections: while two
// silent connections sit in their upgrade, a third is closed at accept,
// long before the handshake time-out.
func TestMaxConnsWSUpgrade(t *testing.T) {
	rec := newRecorder()
	srv := newSock(t)
	l, _ := listen(t, srv, "ws://127.0.0.1:0/crowd", map[string]any{
		transport.OptionEvents:           rec,
		transport.OptionMaxConns:         2,
		transport.OptionHandshakeTimeout: time.Minute,
	})
	for range 2 {
		rawDial(t, l) // silent: stays in its upgrade
	}
	start := time.Now()
	c := rawDial(t, l)
	if _, err := readUntilClosed(t, c, 10*time.Second); err != io.EOF && !errors.Is(err, syscallECONNRESET) {
		t.Fatalf("third connection read %v, want it closed at accept", err)
	}
	e := wait(t, rec.connLimit, "OnConnLimit event")
	if e.url != l.Address() || e.err.Error() != "limit 2" {
		t.Errorf("event %+v", e)
	}
	t.Logf("third silent ws connection closed after %v", time.Since(start))
}

// TestSilentClaimCostsNothing announces a 1 MiB message and sends none of
// it: the pipe allocates and charges nothing for the body until a byte
// arrives, then its first 64 KiB (2,000 such peers used to pin 2 GiB).
func TestSilentClaimCostsNothing(t *testing.T) {
	withBudget(t, 1<<30)
	waitHeld(t, func(h int64) bool { return h == 0 }) // pipes of earlier tests wind down
	synctest.Test(t, func(t *testing.T) {
		base := transport.RecvBudgetStats().Held
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = transport.RecvFrames(a, false, mangos.ProtoPair, 0, false)
		}()
		_, err := b.Write(frameHead("tcp", 1<<20))
		must(t, err)
		synctest.Wait() // the reader is blocked, waiting for the body
		if held := transport.RecvBudgetStats().Held - base; held != 0 {
			t.Errorf("a silent claim holds %d bytes", held)
		}
		_, err = b.Write([]byte{1})
		must(t, err)
		synctest.Wait()
		if held := transport.RecvBudgetStats().Held - base; held != 64<<10 {
			t.Errorf("one byte of a claim holds %d bytes, want 64 KiB", held)
		}
		_ = b.Close()
		<-done
		if held := transport.RecvBudgetStats().Held - base; held != 0 {
			t.Errorf("%d bytes still held after the pipe failed", held)
		}
	})
}
