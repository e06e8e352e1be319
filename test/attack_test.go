package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact/sockets"
)

// Attacks on a listening rep socket, as an internet-facing service would
// meet them, each with an honest req peer doing round trips through the
// same listener all along. Each test logs its figures: what was tried,
// the memory it cost, how long the listener took to close the attacker,
// and the honest peer's success rate. These tests change process-wide
// state (the receive budget) and so never run in parallel.

// target is a rep socket listening on one transport, echoing requests.
type target struct {
	name   string
	url    string // the listener's URL, with its bound port
	addr   string // host:port or path to dial raw
	tlsCli *tls.Config
	cliCfg *sockets.TLSConfig
}

// attackTLS is the certificate of the TLS targets, made once.
var attackTLS = sync.OnceValues(func() ([2][]byte, error) {
	c, k, err := sockets.WriteCert("127.0.0.1", time.Hour)
	return [2][]byte{c, k}, err
})

// listenTarget opens the echoing rep socket with opts and listens on
// scheme ("tcp", "ipc", "ws", "tls+tcp", "wss").
func listenTarget(t *testing.T, scheme string, opts ...sockets.Option) target {
	t.Helper()
	rep := open(t, sockets.Rep, opts...)
	tg := target{name: scheme}
	var eopts []sockets.EndpointOption
	url := scheme + "://127.0.0.1:0"
	switch scheme {
	case "ipc":
		url = ipcURL(t)
	case "ws", "wss":
		url += "/attack"
	}
	if scheme == "tls+tcp" || scheme == "wss" {
		pair, err := attackTLS()
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM := pair[0], pair[1]
		eopts = append(eopts, sockets.TLS(tlsConfig(t, true, sockets.TLSCert(certPEM, keyPEM))))
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		tg.tlsCli = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		tg.cliCfg = tlsConfig(t, false, sockets.TLSCA(certPEM))
	}
	l, err := rep.Listen(url, eopts...)
	if err != nil {
		t.Fatal(err)
	}
	tg.url = l.URL()
	_, rest, _ := strings.Cut(tg.url, "://")
	tg.addr, _, _ = strings.Cut(rest, "/")
	if scheme == "ipc" {
		tg.addr = "/" + rest
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			m, err := rep.Recv(ctx)
			if err != nil {
				continue
			}
			_ = rep.Send(ctx, m.Body, sockets.Raw)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return tg
}

// honest does req/rep round trips with a target until stopped.
type honest struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	done       chan struct{}
}

func startHonest(t *testing.T, tg target) *honest {
	t.Helper()
	req := open(t, sockets.Req)
	var eopts []sockets.EndpointOption
	if tg.cliCfg != nil {
		eopts = append(eopts, sockets.TLS(tg.cliCfg))
	}
	if _, err := req.Dial(tg.url, append(eopts, sockets.Sync)...); err != nil {
		t.Fatal(err)
	}
	h := &honest{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for i := 0; ; i++ {
			select {
			case <-h.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			want := fmt.Sprint("req ", i)
			err := req.Send(ctx, []byte(want), sockets.Raw)
			var got []byte
			if err == nil {
				got, err = sockets.RecvAs[[]byte](ctx, req, sockets.Raw)
			}
			cancel()
			if err == nil && string(got) == want {
				h.ok.Add(1)
			} else {
				h.failed.Add(1)
			}
		}
	}()
	// The first round trip before any attack.
	deadline := time.Now().Add(opLimit)
	for h.ok.Load() == 0 && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling: the counter has no event
	}
	if h.ok.Load() == 0 {
		t.Fatal("honest peer never got an answer")
	}
	t.Cleanup(h.finish)
	return h
}

// finish stops the honest peer (idempotent through t.Cleanup order).
func (h *honest) finish() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}

// report stops h and fails t unless every round trip succeeded; it
// returns the figures for the log.
func (h *honest) report(t *testing.T) string {
	t.Helper()
	h.finish()
	ok, failed := h.ok.Load(), h.failed.Load()
	if failed > 0 {
		t.Errorf("honest peer: %d of %d round trips failed", failed, ok+failed)
	}
	return fmt.Sprintf("honest req/rep %d/%d ok (%.1f%%)", ok, ok+failed, 100*float64(ok)/float64(max(ok+failed, 1)))
}

// rawConn connects to tg without speaking SP: TCP (TLS on tls+tcp and
// wss, the handshake done) or a unix socket.
func rawConn(t *testing.T, tg target) net.Conn {
	t.Helper()
	network := "tcp"
	if tg.name == "ipc" {
		network = "unix"
	}
	c, err := net.DialTimeout(network, tg.addr, opLimit)
	if err != nil {
		t.Fatal(err)
	}
	if tg.tlsCli != nil {
		tc := tls.Client(c, tg.tlsCli)
		_ = tc.SetDeadline(time.Now().Add(opLimit))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		_ = tc.SetDeadline(time.Time{})
		c = tc
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// spOpen completes the SP handshake (as req) or the websocket upgrade on
// c, and returns the header of a message claiming n bytes.
func spOpen(t *testing.T, tg target, c net.Conn, n uint64) []byte {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(opLimit))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if tg.name == "ws" || tg.name == "wss" {
		req := "GET /attack HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Protocol: rep.sp.nanomsg.org\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 0, 256)
		b := make([]byte, 1)
		for !strings.HasSuffix(string(head), "\r\n\r\n") {
			if _, err := c.Read(b); err != nil {
				t.Fatalf("upgrade: %v after %q", err, head)
			}
			head = append(head, b[0])
		}
		if !strings.HasPrefix(string(head), "HTTP/1.1 101") {
			t.Fatalf("upgrade refused: %q", head)
		}
		// A binary frame, masked with a zero key, of 64-bit length n.
		return append(binary.BigEndian.AppendUint64([]byte{0x82, 0x80 | 127}, n), 0, 0, 0, 0)
	}
	if _, err := c.Write([]byte{0, 'S', 'P', 0, 0, 0x30, 0, 0}); err != nil {
		t.Fatal(err)
	}
	var in [8]byte
	if _, err := io.ReadFull(c, in[:]); err != nil {
		t.Fatalf("SP handshake: %v", err)
	}
	var h []byte
	if tg.name == "ipc" {
		h = append(h, 1)
	}
	return binary.BigEndian.AppendUint64(h, n)
}

// heapPeak samples the heap in use.
type heapPeak struct{ base, peak uint64 }

func newHeapPeak() *heapPeak {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapPeak{base: m.HeapInuse, peak: m.HeapInuse}
}

func (h *heapPeak) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.peak = max(h.peak, m.HeapInuse)
}

func (h *heapPeak) grew() int64 { return int64(h.peak) - int64(h.base) }

// lie claims claim bytes on a new connection and streams up to stream
// bytes of it in 1 MiB writes, sampling the heap; it returns the bytes
// that went before the listener closed the connection (all of them if it
// never did) and the time from the claim to the close.
func lie(t *testing.T, tg target, claim uint64, stream int, hp *heapPeak) (sent int, took time.Duration) {
	t.Helper()
	c := rawConn(t, tg)
	head := spOpen(t, tg, c, claim)
	start := time.Now()
	if _, err := c.Write(head); err != nil {
		return 0, time.Since(start)
	}
	chunk := make([]byte, 1<<20)
	for sent < stream {
		_ = c.SetWriteDeadline(time.Now().Add(opLimit))
		n, err := c.Write(chunk)
		sent += n
		hp.sample()
		if err != nil {
			return sent, time.Since(start)
		}
	}
	return sent, time.Since(start)
}

// TestAttackLengthLie claims an 8 GiB message and streams 256 MiB of it at
// the default settings (the 1 GiB recv-size-max refuses it from its
// header), and then on a socket set to unlimited (recv-size-max 0), where
// the process-wide receive budget, set to 32 MiB here, closes it.
func TestAttackLengthLie(t *testing.T) {
	const claim, stream = 8 << 30, 256 << 20
	for _, scheme := range []string{"tcp", "ipc", "ws", "tls+tcp", "wss"} {
		t.Run(scheme+"/default", func(t *testing.T) {
			tg := listenTarget(t, scheme)
			h := startHonest(t, tg)
			hp := newHeapPeak()
			sent, took := lie(t, tg, claim, stream, hp)
			if sent >= stream {
				t.Fatalf("all %d MiB went through", stream>>20)
			}
			t.Logf("claimed 8 GiB at defaults: closed after %d MiB sent, %v; heap peak +%d MiB; %s",
				sent>>20, took.Round(time.Millisecond), hp.grew()>>20, h.report(t))
			if hp.grew() > 128<<20 {
				t.Errorf("heap grew %d MiB", hp.grew()>>20)
			}
		})
	}
	for _, scheme := range []string{"tcp", "ws", "tls+tcp"} {
		t.Run(scheme+"/unlimited", func(t *testing.T) {
			old := sockets.SetRecvBudget(32 << 20)
			t.Cleanup(func() { sockets.SetRecvBudget(old) })
			tg := listenTarget(t, scheme, sockets.WithRecvSizeMax(0))
			h := startHonest(t, tg)
			before := sockets.RecvBudgetStats()
			hp := newHeapPeak()
			sent, took := lie(t, tg, claim, stream, hp)
			if sent >= stream {
				t.Fatalf("all %d MiB went through", stream>>20)
			}
			after := sockets.RecvBudgetStats()
			if after.Refused <= before.Refused {
				t.Errorf("budget refusals %d -> %d", before.Refused, after.Refused)
			}
			t.Logf("claimed 8 GiB, no limit, 32 MiB budget: closed after %d MiB sent, %v; heap peak +%d MiB; budget peak %d MiB; %s",
				sent>>20, took.Round(time.Millisecond), hp.grew()>>20, after.Peak>>20, h.report(t))
			if hp.grew() > 160<<20 {
				t.Errorf("heap grew %d MiB", hp.grew()>>20)
			}
		})
	}
}

// TestAttackSlowLoris opens connections that send their handshake one
// byte at a time, a byte every 100 ms, to a listener with a 300 ms
// handshake time-out: each is closed on time, and the honest peer is
// served throughout.
func TestAttackSlowLoris(t *testing.T) {
	const conns, timeout = 20, 300 * time.Millisecond
	for _, scheme := range []string{"tcp", "ws", "tls+tcp", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			tg := listenTarget(t, scheme, sockets.WithHandshakeTimeout(timeout))
			h := startHonest(t, tg)
			// What each attacker dribbles: the start of a valid handshake.
			slow := []byte{0, 'S', 'P', 0, 0, 0x30, 0, 0}
			switch scheme {
			case "ws":
				slow = []byte("GET /attack HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
			case "tls+tcp", "wss":
				slow = []byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03} // a ClientHello's start
			}
			var wg sync.WaitGroup
			took := make([]time.Duration, conns)
			for i := range conns {
				network := "tcp"
				c, err := net.DialTimeout(network, tg.addr, opLimit)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				wg.Go(func() {
					start := time.Now()
					b := make([]byte, 64)
					for k := 0; ; k++ {
						if k < len(slow) {
							if _, err := c.Write(slow[k : k+1]); err != nil {
								break
							}
						}
						// Paces the dribble and sees the close.
						_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
						_, err := c.Read(b)
						var ne net.Error
						if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
							break
						}
						if time.Since(start) > opLimit {
							break
						}
					}
					took[i] = time.Since(start)
				})
			}
			wg.Wait()
			var worst time.Duration
			for _, d := range took {
				worst = max(worst, d)
			}
			if worst > 5*time.Second {
				t.Errorf("a slow connection lived %v with a %v handshake time-out", worst, timeout)
			}
			t.Logf("%d slow-loris connections (a byte per 100 ms), %v handshake time-out: all closed, the last after %v; %s",
				conns, timeout, worst.Round(time.Millisecond), h.report(t))
		})
	}
}

// TestAttackIdleCrowd opens 200 connections that complete the SP
// handshake and claim a 1 MiB message, against a listener capped at 50
// connections with a 2 s idle time-out. While they open, the ones held
// dribble a byte of their message every 100 ms (so that no slot frees up
// and the cap alone decides): those over the cap are closed at accept.
// Then they all go silent and the idle time-out closes them. The heap
// stays small, and the honest peer (connected first) is served
// throughout.
func TestAttackIdleCrowd(t *testing.T) {
	const conns, maxConns, idle = 200, 50, 2 * time.Second
	for _, scheme := range []string{"tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			tg := listenTarget(t, scheme, sockets.WithMaxConns(maxConns), sockets.WithIdleTimeout(idle))
			h := startHonest(t, tg)
			hp := newHeapPeak()
			var refused, held int
			var cs []net.Conn
			quiet := make(chan struct{})
			var dribblers sync.WaitGroup
			for range conns {
				c, err := net.DialTimeout("tcp", tg.addr, opLimit)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				if ok := tryOpen(tg, c); !ok {
					refused++
					_ = c.Close()
					continue
				}
				held++
				cs = append(cs, c)
				dribblers.Go(func() {
					tick := time.NewTicker(100 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-quiet:
							return
						case <-tick.C:
							_ = c.SetWriteDeadline(time.Now().Add(opLimit))
							if _, err := c.Write([]byte{0}); err != nil {
								return
							}
						}
					}
				})
			}
			hp.sample()
			close(quiet)
			dribblers.Wait()
			start := time.Now()
			for _, c := range cs {
				_ = c.SetReadDeadline(time.Now().Add(opLimit))
				_, _ = io.Copy(io.Discard, c) // until the listener closes it
			}
			closedAfter := time.Since(start)
			if held > maxConns {
				t.Errorf("%d connections held, cap %d", held, maxConns)
			}
			if closedAfter > idle+5*time.Second {
				t.Errorf("idle connections lived %v with a %v idle time-out", closedAfter, idle)
			}
			t.Logf("%d connections claiming 1 MiB, cap %d, idle %v: %d refused at accept, %d held, then silent and closed within %v; heap peak +%d MiB; %s",
				conns, maxConns, idle, refused, held, closedAfter.Round(time.Millisecond), hp.grew()>>20, h.report(t))
			if hp.grew() > 64<<20 {
				t.Errorf("heap grew %d MiB", hp.grew()>>20)
			}
		})
	}
}

// tryOpen handshakes c with tg and claims a 1 MiB message; false if the
// listener closed c instead (the cap).
func tryOpen(tg target, c net.Conn) bool {
	_ = c.SetDeadline(time.Now().Add(opLimit))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	var head []byte
	if tg.name == "ws" {
		req := "GET /attack HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Protocol: rep.sp.nanomsg.org\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			return false
		}
		resp := make([]byte, 12)
		if _, err := io.ReadFull(c, resp); err != nil || string(resp) != "HTTP/1.1 101" {
			return false
		}
		head = append(binary.BigEndian.AppendUint64([]byte{0x82, 0x80 | 127}, 1<<20), 0, 0, 0, 0)
	} else {
		if _, err := c.Write([]byte{0, 'S', 'P', 0, 0, 0x30, 0, 0}); err != nil {
			return false
		}
		var in [8]byte
		if _, err := io.ReadFull(c, in[:]); err != nil {
			return false
		}
		head = binary.BigEndian.AppendUint64(nil, 1<<20)
	}
	_, err := c.Write(head)
	return err == nil
}
