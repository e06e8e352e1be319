package transport_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol"
	"go.nanomsg.org/mangos/v3/protocol/pull"
	"go.nanomsg.org/mangos/v3/protocol/push"
	"go.nanomsg.org/mangos/v3/protocol/rep"
	"go.nanomsg.org/mangos/v3/protocol/req"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

// sockOf returns a socket of protocol p with 10 s deadlines, closed at
// cleanup.
func sockOf(t testing.TB, p protocol.Protocol) mangos.Socket {
	t.Helper()
	s := protocol.MakeSocket(p)
	for _, name := range []string{mangos.OptionRecvDeadline, mangos.OptionSendDeadline} {
		if err := s.SetOption(name, 10*time.Second); err != nil && err != mangos.ErrBadOption {
			t.Fatal(err) // push has no receive deadline, pull no send one
		}
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newReqSock(t testing.TB) mangos.Socket { return sockOf(t, req.NewProtocol()) }
func newRepSock(t testing.TB) mangos.Socket { return sockOf(t, rep.NewProtocol()) }

// wsURL is the plain ws:// URL of a ws listener's address with path.
func wsURL(t testing.TB, l mangos.Listener, path string) string {
	t.Helper()
	v, err := l.GetOption(mangos.OptionLocalAddr)
	must(t, err)
	return "ws://" + v.(net.Addr).String() + path
}

// TestWSSharedPort runs several listeners, of different sockets, on one
// port with different paths, as NNG allows.
func TestWSSharedPort(t *testing.T) {
	srv1, srv2 := sockOf(t, pull.NewProtocol()), sockOf(t, pull.NewProtocol())
	l1, du1 := listen(t, srv1, "ws://127.0.0.1:0/one", nil)
	port, err := l1.GetOption(transport.OptionTCPBoundPort)
	must(t, err)
	base := "ws://127.0.0.1:" + strconv.Itoa(port.(int))
	l2, du2 := listen(t, srv2, base+"/two", nil)
	if p, _ := l2.GetOption(transport.OptionTCPBoundPort); p != port {
		t.Fatalf("second listener on port %v, want %v", p, port)
	}

	// The same path twice is refused; so is wss on a ws port.
	u, err := transport.Rewrite(base + "/one")
	must(t, err)
	wantCode(t, newSock(t).Listen(u), nanoact.ErrAddrInUse)
	u, err = transport.Rewrite(strings.Replace(base, "ws:", "wss:", 1) + "/three")
	must(t, err)
	wantCode(t, newSock(t).ListenOptions(u, map[string]any{mangos.OptionTLSConfig: serverTLS()}), nanoact.ErrAddrInUse)

	for i, c := range []struct {
		srv mangos.Socket
		du  string
	}{{srv1, du1}, {srv2, du2}} {
		cli := sockOf(t, push.NewProtocol())
		must(t, cli.Dial(c.du))
		msg := fmt.Sprintf("to %d", i+1)
		must(t, cli.Send([]byte(msg)))
		got, err := c.srv.Recv()
		must(t, err)
		if string(got) != msg {
			t.Fatalf("listener %d got %q", i+1, got)
		}
	}

	// Closing one listener leaves the other serving; its path is gone.
	must(t, l1.Close())
	err = sockOf(t, push.NewProtocol()).Dial(du1)
	wantCode(t, err, nanoact.ErrConnRefused) // 404, as NNG maps it
	cli := sockOf(t, push.NewProtocol())
	must(t, cli.Dial(du2))
	must(t, cli.Send([]byte("still")))
	got, err := srv2.Recv()
	must(t, err)
	if string(got) != "still" {
		t.Fatalf("got %q", got)
	}

	// The last one frees the port.
	must(t, l2.Close())
	ln, err := net.Listen("tcp", strings.TrimPrefix(base, "ws://"))
	must(t, err)
	must(t, ln.Close())
}

// TestWSSSharedPort lets wss listeners share a port when given the same
// *tls.Config, and refuses one with another config.
func TestWSSSharedPort(t *testing.T) {
	cfg := serverTLS()
	srv1, srv2 := sockOf(t, pull.NewProtocol()), sockOf(t, pull.NewProtocol())
	l1, du1 := listen(t, srv1, "wss://127.0.0.1:0/one", map[string]any{mangos.OptionTLSConfig: cfg})
	port, err := l1.GetOption(transport.OptionTCPBoundPort)
	must(t, err)
	base := "wss://127.0.0.1:" + strconv.Itoa(port.(int))
	_, du2 := listen(t, srv2, base+"/two", map[string]any{mangos.OptionTLSConfig: cfg})
	u, err := transport.Rewrite(base + "/three")
	must(t, err)
	wantCode(t, newSock(t).ListenOptions(u, map[string]any{mangos.OptionTLSConfig: serverTLS()}), nanoact.ErrAddrInUse)
	u, err = transport.Rewrite(strings.Replace(base, "wss:", "ws:", 1) + "/four")
	must(t, err)
	wantCode(t, newSock(t).Listen(u), nanoact.ErrAddrInUse)
	for _, c := range []struct {
		srv mangos.Socket
		du  string
	}{{srv1, du1}, {srv2, du2}} {
		cli := sockOf(t, push.NewProtocol())
		must(t, cli.DialOptions(c.du, map[string]any{mangos.OptionTLSConfig: clientTLS()}))
		must(t, cli.Send([]byte(c.du)))
		got, err := c.srv.Recv()
		must(t, err)
		if string(got) != c.du {
			t.Fatalf("got %q, want %q", got, c.du)
		}
	}
}

// TestWSSubprotocol checks the Sec-WebSocket-Protocol negotiation: the
// dialer asks for its peer's protocol, the listener answers with its own,
// and refuses (400) a request for another one or none, which it reports.
func TestWSSubprotocol(t *testing.T) {
	rec := newRecorder()
	srv := newSock(t) // pair0
	l, du := listen(t, srv, "ws://127.0.0.1:0/sp", map[string]any{transport.OptionEvents: rec})
	url := wsURL(t, l, "/sp")

	for _, protos := range [][]string{{"rep.sp.nanomsg.org"}, nil, {"pair1.sp.nanomsg.org"}} {
		d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 10 * time.Second}
		ws, resp, err := d.Dial(url, nil)
		if err == nil {
			_ = ws.Close()
			t.Fatalf("subprotocols %q accepted", protos)
		}
		if resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("subprotocols %q: %v, response %v; want 400", protos, err, resp)
		}
		wantCode(t, rec.waitHSFail(t).err, nanoact.ErrProtocol)
	}

	// A req socket asks for rep: refused, with NNG's code for a 400.
	drec := newRecorder()
	err := newReqSock(t).DialOptions(du, map[string]any{transport.OptionEvents: drec})
	wantCode(t, err, nanoact.ErrProtocol)
	wantCode(t, drec.waitHSFail(t).err, nanoact.ErrProtocol)
	wantCode(t, rec.waitHSFail(t).err, nanoact.ErrProtocol)

	// The right one is echoed, and binary messages carry SP messages
	// whole, without an SP header.
	d := websocket.Dialer{Subprotocols: []string{"pair.sp.nanomsg.org"}, HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial(url, nil)
	must(t, err)
	defer func() { _ = ws.Close() }()
	if ws.Subprotocol() != "pair.sp.nanomsg.org" {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	must(t, ws.WriteMessage(websocket.BinaryMessage, []byte("abc")))
	must(t, ws.WriteMessage(websocket.BinaryMessage, nil))
	for _, want := range []string{"abc", ""} {
		got, err := srv.Recv()
		must(t, err)
		if string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	must(t, srv.Send([]byte("xyz")))
	must(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	typ, b, err := ws.ReadMessage()
	must(t, err)
	if typ != websocket.BinaryMessage || string(b) != "xyz" {
		t.Fatalf("read %d %q", typ, b)
	}
	// A text message is a protocol error: the pipe is closed.
	must(t, ws.WriteMessage(websocket.TextMessage, []byte("text")))
	if _, _, err := ws.ReadMessage(); err == nil {
		t.Fatal("pipe still open after a text message")
	}
}

// TestWSHTTPRefusals checks what the listener answers to requests that
// are not SP upgrades, and that it keeps serving.
func TestWSHTTPRefusals(t *testing.T) {
	rec := newRecorder()
	srv := newSock(t)
	l, du := listen(t, srv, "ws://127.0.0.1:0/sp", map[string]any{transport.OptionEvents: rec})
	for _, c := range []struct {
		req  string
		want int
	}{
		{"GET /other HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusNotFound},
		{"GET /sp HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Protocol: pair.sp.nanomsg.org\r\n\r\n", http.StatusBadRequest},
		{"POST /sp HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Protocol: pair.sp.nanomsg.org\r\nContent-Length: 0\r\n\r\n", http.StatusBadRequest},
		{"\x00SP\x00\x00\x10\x00\x00 garbage\r\n\r\n", http.StatusBadRequest},
	} {
		c2 := rawDial(t, l)
		_, err := c2.Write([]byte(c.req))
		must(t, err)
		must(t, c2.SetReadDeadline(time.Now().Add(10*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
		must(t, err)
		_ = resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%.40q: status %d, want %d", c.req, resp.StatusCode, c.want)
		}
		e := rec.waitHSFail(t)
		wantCode(t, e.err, nanoact.ErrProtocol)
		t.Logf("%.30q: %s; reported %v", c.req, resp.Status, e.err)
	}
	cli := newSock(t)
	must(t, cli.Dial(du))
	must(t, cli.Send([]byte("ok")))
	_, err := srv.Recv()
	must(t, err)
}

// TestWSOversize sends one message over the limit: that pipe closes, the
// event says so, and the listener's other pipes carry on.
func TestWSOversize(t *testing.T) {
	for _, tc := range secureMatrix()[1:] {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			srv := sockOf(t, pull.NewProtocol())
			detached := make(chan struct{}, 4)
			srv.SetPipeEventHook(func(ev mangos.PipeEvent, _ mangos.Pipe) {
				if ev == mangos.PipeEventDetached {
					detached <- struct{}{}
				}
			})
			must(t, srv.SetOption(mangos.OptionMaxRecvSize, 1024))
			l, du := listen(t, srv, tc.url, tc.srvOpts(map[string]any{transport.OptionEvents: rec}))
			bad, good := sockOf(t, push.NewProtocol()), sockOf(t, push.NewProtocol())
			must(t, bad.DialOptions(du, tc.cliOpts(nil)))
			must(t, good.DialOptions(du, tc.cliOpts(nil)))

			must(t, bad.Send(pattern(1024))) // exactly the limit passes
			got, err := srv.Recv()
			must(t, err)
			if len(got) != 1024 {
				t.Fatalf("got %d bytes", len(got))
			}
			must(t, bad.Send(pattern(5000)))
			tm := time.NewTimer(10 * time.Second)
			defer tm.Stop()
			select {
			case e := <-rec.oversize:
				if e.size <= 1024 || e.limit != 1024 || e.url != l.Address() {
					t.Errorf("oversize event %+v, want size > 1024, limit 1024, url %s", e, l.Address())
				}
			case <-tm.C:
				t.Fatal("no OnOversize event")
			}
			select {
			case <-detached:
			case <-tm.C:
				t.Fatal("oversized pipe not closed")
			}
			must(t, good.Send([]byte("still here")))
			got, err = srv.Recv()
			must(t, err)
			if string(got) != "still here" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// TestWSDialErrors checks the codes of failed ws dials.
func TestWSDialErrors(t *testing.T) {
	cases := []struct {
		url  string
		want *nanoact.Error
	}{
		{"ws://" + freeTCP(t) + "/x", nanoact.ErrConnRefused},
		{"ws://:5555/x", nanoact.ErrAddrInvalid}, // dialing needs a host
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			u, err := transport.Rewrite(c.url)
			must(t, err)
			err = newSock(t).Dial(u)
			wantCode(t, err, c.want)
		})
	}
}

// TestWSCloseRace closes ws and wss listeners while peers keep arriving:
// raw connections that stall mid-request, full SP dials, and websocket
// dials asking for the wrong protocol. Close must leave no goroutine and
// no descriptor behind.
func TestWSCloseRace(t *testing.T) {
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	for _, tc := range []secure{secureMatrix()[1], secureMatrix()[2], secureMatrix()[0]} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range rounds {
				before, f0 := baseline(t)
				closeRaceRound(t, tc, round)
				settle(t, before, f0)
			}
		})
	}
}

func closeRaceRound(t *testing.T, tc secure, round int) {
	srv := protocol.MakeSocket(pull.NewProtocol())
	defer func() { _ = srv.Close() }()
	u, err := transport.Rewrite(tc.url)
	must(t, err)
	l, err := srv.NewListener(u, tc.srvOpts(map[string]any{transport.OptionHandshakeTimeout: 5 * time.Second}))
	must(t, err)
	must(t, l.Listen())
	du, err := transport.Rewrite(l.Address())
	must(t, err)
	v, err := l.GetOption(mangos.OptionLocalAddr)
	must(t, err)
	raw := v.(net.Addr).String()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch (w + i) % 3 {
				case 0: // a raw connection that stalls mid-request
					c, err := net.DialTimeout("tcp", raw, time.Second)
					if err != nil {
						continue
					}
					_, _ = c.Write([]byte("GET "))
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				case 1: // a full SP dial and hang-up
					s := protocol.MakeSocket(push.NewProtocol())
					_ = s.DialOptions(du, tc.cliOpts(map[string]any{transport.OptionHandshakeTimeout: time.Second}))
					_ = s.Send([]byte("x"))
					_ = s.Close()
				case 2: // the wrong protocol
					s := protocol.MakeSocket(pull.NewProtocol())
					_ = s.DialOptions(du, tc.cliOpts(map[string]any{transport.OptionHandshakeTimeout: time.Second}))
					_ = s.Close()
				}
			}
		})
	}
	time.Sleep(time.Duration(10+5*round) * time.Millisecond) // let peers arrive mid-handshake
	start := time.Now()
	must(t, l.Close())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("round %d: listener Close took %v", round, d)
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	for _, c := range conns {
		_ = c.Close()
	}
	mu.Unlock()
}

// TestWSListenerCloseKeepsPipes closes a ws listener with a pipe open:
// the pipe goes on working, as on tcp.
func TestWSListenerCloseKeepsPipes(t *testing.T) {
	srv, cli := newSock(t), newSock(t)
	l, du := listen(t, srv, "ws://127.0.0.1:0/keep", nil)
	must(t, cli.Dial(du))
	must(t, cli.Send([]byte("a")))
	_, err := srv.Recv()
	must(t, err)
	must(t, l.Close())
	if err := l.Close(); err != mangos.ErrClosed { // mangos' core answers
		t.Errorf("second Close: %v", err)
	}
	must(t, srv.Send([]byte("b")))
	got, err := cli.Recv()
	must(t, err)
	if string(got) != "b" {
		t.Fatalf("got %q", got)
	}
}

// TestTLSServerNameFromURL dials by host name: without a ServerName in
// the config, the URL's host is verified.
func TestTLSServerNameFromURL(t *testing.T) {
	for _, tc := range secureMatrix() {
		if !tc.tls {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			l, _ := listen(t, srv, tc.url, tc.srvOpts(nil))
			port, err := l.GetOption(transport.OptionTCPBoundPort)
			must(t, err)
			scheme, _, _ := strings.Cut(tc.url, "://")
			u, err := transport.Rewrite(scheme + "://localhost:" + strconv.Itoa(port.(int)) + tc.rawPath)
			must(t, err)
			cfg := &tls.Config{RootCAs: theCA().pool}
			must(t, cli.DialOptions(u, map[string]any{mangos.OptionTLSConfig: cfg}))
			if cfg.ServerName != "" {
				t.Error("the dialer wrote into the caller's config")
			}
			must(t, cli.Send([]byte("by name")))
			_, err = srv.Recv()
			must(t, err)
		})
	}
}
