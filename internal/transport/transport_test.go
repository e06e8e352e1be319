package transport_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
	"go.nanomsg.org/mangos/v3"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			must(t, srv.SetOption(mangos.OptionMaxRecvSize, 0))
			must(t, cli.SetOption(mangos.OptionMaxRecvSize, 0))
			_, du := listen(t, srv, tc.url, nil)
			must(t, cli.Dial(du))
			roundTrips(t, srv, cli, 0, 1, 8, 1000, 32<<10, 65535, 65536, 1<<20+1, 5<<20)
		})
	}
}

// TestManySmall sends a burst of small messages both ways at once, which
// exercises the buffered reader across frame boundaries.
func TestManySmall(t *testing.T) {
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			_, du := listen(t, srv, tc.url, nil)
			must(t, cli.Dial(du))
			exchangeMany(t, srv, cli)
		})
	}
}

func TestPipeOptions(t *testing.T) {
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			pipes := make(chan mangos.Pipe, 4)
			srv.SetPipeEventHook(func(ev mangos.PipeEvent, p mangos.Pipe) {
				if ev == mangos.PipeEventAttached {
					pipes <- p
				}
			})
			must(t, srv.SetOption(mangos.OptionMaxRecvSize, 4096))
			l, du := listen(t, srv, tc.url, nil)
			must(t, cli.Dial(du))
			p := <-pipes

			v, err := p.GetOption(mangos.OptionMaxRecvSize)
			must(t, err)
			if v != 4096 {
				t.Errorf("pipe max recv size %v, want 4096", v)
			}
			for _, name := range []string{mangos.OptionLocalAddr, mangos.OptionRemoteAddr} {
				v, err := p.GetOption(name)
				must(t, err)
				if _, ok := v.(net.Addr); !ok {
					t.Errorf("%s is %T, want net.Addr", name, v)
				}
			}
			if strings.HasPrefix(tc.name, "tcp") {
				for name, want := range map[string]bool{mangos.OptionNoDelay: true, mangos.OptionKeepAlive: false} {
					v, err := p.GetOption(name)
					must(t, err)
					if v != want {
						t.Errorf("pipe %s = %v, want %v", name, v, want)
					}
				}
			} else {
				v, err := p.GetOption(mangos.OptionPeerPID)
				must(t, err)
				if v != os.Getpid() {
					t.Errorf("peer pid %v, want %d", v, os.Getpid())
				}
			}

			// Listener options: defaults, types, unknown names.
			v, err = l.GetOption(transport.OptionHandshakeTimeout)
			must(t, err)
			if v != transport.DefaultHandshakeTimeout {
				t.Errorf("handshake timeout %v, want %v", v, transport.DefaultHandshakeTimeout)
			}
			if _, err := l.GetOption("no-such-option"); err != mangos.ErrBadOption {
				t.Errorf("unknown option: %v, want mangos.ErrBadOption", err)
			}
			if err := l.SetOption("no-such-option", 1); err != mangos.ErrBadOption {
				t.Errorf("set unknown option: %v, want mangos.ErrBadOption", err)
			}
			for name, bad := range map[string]any{
				transport.OptionHandshakeTimeout: time.Duration(0),
				mangos.OptionMaxRecvSize:         -1,
				transport.OptionEvents:           42,
			} {
				if err := l.SetOption(name, bad); err != mangos.ErrBadValue {
					t.Errorf("set %s=%v: %v, want mangos.ErrBadValue", name, bad, err)
				}
			}
			if v, err := l.GetOption(transport.OptionEvents); err != nil || v != nil {
				t.Errorf("events default = %v, %v; want nil", v, err)
			}
		})
	}
}

func TestDialerOptions(t *testing.T) {
	cli := newSock(t)
	u, err := transport.Rewrite("tcp://127.0.0.1:1")
	must(t, err)
	d, err := cli.NewDialer(u, map[string]any{
		transport.OptionHandshakeTimeout: time.Second,
		mangos.OptionNoDelay:             false,
		mangos.OptionKeepAlive:           true,
	})
	must(t, err)
	for name, want := range map[string]any{
		transport.OptionHandshakeTimeout: time.Second,
		mangos.OptionNoDelay:             false,
		mangos.OptionKeepAlive:           true,
		mangos.OptionMaxRecvSize:         1 << 20, // mangos' core passes its socket default down
	} {
		v, err := d.GetOption(name)
		must(t, err)
		if v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	// ipc has no tcp options.
	iu, err := transport.Rewrite("ipc://" + filepath.Join(t.TempDir(), "x"))
	must(t, err)
	if _, err := cli.NewDialer(iu, map[string]any{mangos.OptionNoDelay: true}); err != mangos.ErrBadOption {
		t.Errorf("ipc nodelay: %v, want mangos.ErrBadOption", err)
	}
}

// TestTCPNoDelayKeepAliveApplied checks the socket options reach the pipes.
func TestTCPNoDelayKeepAliveApplied(t *testing.T) {
	srv, cli := newSock(t), newSock(t)
	pipes := make(chan mangos.Pipe, 4)
	cli.SetPipeEventHook(func(ev mangos.PipeEvent, p mangos.Pipe) {
		if ev == mangos.PipeEventAttached {
			pipes <- p
		}
	})
	_, du := listen(t, srv, "tcp://127.0.0.1:0", nil)
	must(t, cli.DialOptions(du, map[string]any{mangos.OptionNoDelay: false, mangos.OptionKeepAlive: true}))
	p := <-pipes
	for name, want := range map[string]bool{mangos.OptionNoDelay: false, mangos.OptionKeepAlive: true} {
		v, err := p.GetOption(name)
		must(t, err)
		if v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	must(t, cli.Send([]byte("x")))
	_, err := srv.Recv()
	must(t, err)
}

func TestOversize(t *testing.T) {
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			srv := newSock(t)
			detached := make(chan struct{}, 4)
			srv.SetPipeEventHook(func(ev mangos.PipeEvent, _ mangos.Pipe) {
				if ev == mangos.PipeEventDetached {
					detached <- struct{}{}
				}
			})
			must(t, srv.SetOption(mangos.OptionMaxRecvSize, 1024))
			l, du := listen(t, srv, tc.url, map[string]any{transport.OptionEvents: rec})

			cli1 := newSock(t)
			must(t, cli1.Dial(du))
			must(t, cli1.Send(pattern(1024))) // exactly the limit passes
			got, err := srv.Recv()
			must(t, err)
			if len(got) != 1024 {
				t.Fatalf("got %d bytes", len(got))
			}
			must(t, cli1.Send(pattern(1025)))
			tm := time.NewTimer(10 * time.Second)
			defer tm.Stop()
			select {
			case e := <-rec.oversize:
				if e.size != 1025 || e.limit != 1024 || e.url != l.Address() {
					t.Errorf("oversize event %+v, want size 1025, limit 1024, url %s", e, l.Address())
				}
			case <-tm.C:
				t.Fatal("no OnOversize event")
			}
			must(t, cli1.Close())
			// pair takes one peer at a time: wait until the closed pipe
			// has left the server socket, or the next one is turned away.
			select {
			case <-detached:
			case <-tm.C:
				t.Fatal("oversized pipe not closed")
			}

			// The listener keeps accepting.
			cli2 := newSock(t)
			must(t, cli2.Dial(du))
			must(t, cli2.Send([]byte("still here")))
			got, err = srv.Recv()
			must(t, err)
			if string(got) != "still here" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// TestOversizeDialer checks the limit and event on the dialing side.
func TestOversizeDialer(t *testing.T) {
	rec := newRecorder()
	srv, cli := newSock(t), newSock(t)
	must(t, srv.SetOption(mangos.OptionMaxRecvSize, 0))
	_, du := listen(t, srv, "tcp://127.0.0.1:0", nil)
	must(t, cli.DialOptions(du, map[string]any{mangos.OptionMaxRecvSize: 10, transport.OptionEvents: rec}))
	must(t, srv.Send(pattern(11)))
	tm := time.NewTimer(10 * time.Second)
	defer tm.Stop()
	select {
	case e := <-rec.oversize:
		if e.size != 11 || e.limit != 10 || !strings.HasPrefix(e.url, "tcp://127.0.0.1:") {
			t.Errorf("event %+v", e)
		}
	case <-tm.C:
		t.Fatal("no OnOversize event")
	}
}

func TestHandshakeStall(t *testing.T) {
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			srv := newSock(t)
			const timeout = 200 * time.Millisecond
			l, _ := listen(t, srv, tc.url, map[string]any{
				transport.OptionHandshakeTimeout: timeout,
				transport.OptionEvents:           rec,
			})
			c := rawDial(t, l)
			start := time.Now()
			got, err := readUntilClosed(t, c, 10*time.Second)
			elapsed := time.Since(start)
			if err != io.EOF && !errors.Is(err, syscallECONNRESET) {
				t.Fatalf("read: %v, want EOF", err)
			}
			if want := []byte{0, 'S', 'P', 0, 0, 0x10, 0, 0}; !bytes.Equal(got, want) {
				t.Errorf("server sent % x, want % x", got, want)
			}
			if elapsed < timeout-20*time.Millisecond {
				t.Errorf("closed after %v, before the %v time-out", elapsed, timeout)
			}
			e := rec.waitHSFail(t)
			wantCode(t, e.err, nanoact.ErrTimedOut)
			if e.url != l.Address() {
				t.Errorf("event url %q, want %q", e.url, l.Address())
			}
			t.Logf("stalled peer closed after %v: %v", elapsed.Round(time.Millisecond), e.err)
		})
	}
}

// TestStalledPeersDoNotBlock leaves peers stalled in the handshake with
// the default 10 s time-out, checks a good peer still gets through, and
// that closing the listener drops the stalled ones at once.
func TestStalledPeersDoNotBlock(t *testing.T) {
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			l, du := listen(t, srv, tc.url, nil)
			var stalled []net.Conn
			for range 5 {
				stalled = append(stalled, rawDial(t, l))
			}
			must(t, cli.Dial(du))
			must(t, cli.Send([]byte("hi")))
			got, err := srv.Recv()
			must(t, err)
			if string(got) != "hi" {
				t.Fatalf("got %q", got)
			}
			start := time.Now()
			must(t, l.Close())
			for _, c := range stalled {
				if _, err := readUntilClosed(t, c, 5*time.Second); err != io.EOF && !errors.Is(err, syscallECONNRESET) {
					t.Fatalf("stalled peer: %v, want EOF", err)
				}
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("listener close took %v to drop stalled peers", d)
			}
			// The established pipe survives the listener.
			must(t, srv.Send([]byte("still")))
			got, err = cli.Recv()
			must(t, err)
			if string(got) != "still" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestHandshakeRejects(t *testing.T) {
	wrongProto := []byte{0, 'S', 'P', 0, 0, 0x11, 0, 0} // pair1
	for _, tc := range matrix(t) {
		for name, hc := range map[string]struct {
			hello []byte
			says  string // what the error tells the user
		}{
			"wrong-protocol": {wrongProto, "peer speaks pair1, want pair"},
			"bad-version":    {[]byte{0, 'S', 'P', 1, 0, 0x10, 0, 0}, "SP header of version 1, want 0"},
			"garbage":        {[]byte("GET / HTTP/1.1\r\n\r\n"), "the peer speaks HTTP"},
			"tls-hello":      {[]byte{0x16, 0x03, 0x01, 0x02, 0, 1, 0, 0}, "the peer began a TLS handshake"},
			"not-sp":         {[]byte("\x01SP\x00\x00\x10\x00\x00"), "it must start 00 'S' 'P'"},
		} {
			hello := hc.hello
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				rec := newRecorder()
				srv := newSock(t)
				l, _ := listen(t, srv, tc.url, map[string]any{transport.OptionEvents: rec})
				c := rawDial(t, l)
				_, err := c.Write(hello)
				must(t, err)
				if _, err := readUntilClosed(t, c, 10*time.Second); err != io.EOF && !errors.Is(err, syscallECONNRESET) {
					t.Fatalf("read: %v, want the connection closed", err)
				}
				e := rec.waitHSFail(t)
				wantCode(t, e.err, nanoact.ErrProtocol)
				if !strings.Contains(e.err.Error(), hc.says) {
					t.Errorf("error %q does not say %q", e.err, hc.says)
				}
			})
		}
	}
}

// rawServer accepts one connection on a fresh loopback listener and runs
// serve on it; it returns the SP URL to dial and waits for serve at
// cleanup.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		serve(c)
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	u, err := transport.Rewrite("tcp://" + ln.Addr().String())
	must(t, err)
	return u
}

func TestDialerHandshake(t *testing.T) {
	t.Run("wrong-protocol", func(t *testing.T) {
		u := rawServer(t, func(c net.Conn) {
			_, _ = c.Write([]byte{0, 'S', 'P', 0, 0, 0x30, 0, 0}) // req0
			_, _ = io.ReadAll(c)
		})
		rec := newRecorder()
		err := newSock(t).DialOptions(u, map[string]any{transport.OptionEvents: rec})
		wantCode(t, err, nanoact.ErrProtocol)
		wantCode(t, rec.waitHSFail(t).err, nanoact.ErrProtocol)
	})
	t.Run("stall", func(t *testing.T) {
		u := rawServer(t, func(c net.Conn) { _, _ = io.ReadAll(c) })
		rec := newRecorder()
		start := time.Now()
		err := newSock(t).DialOptions(u, map[string]any{
			transport.OptionEvents:           rec,
			transport.OptionHandshakeTimeout: 200 * time.Millisecond,
		})
		if d := time.Since(start); d < 180*time.Millisecond || d > 5*time.Second {
			t.Errorf("dial failed after %v, want about 200ms", d)
		}
		wantCode(t, err, nanoact.ErrTimedOut)
		wantCode(t, rec.waitHSFail(t).err, nanoact.ErrTimedOut)
	})
	t.Run("context-closes", func(t *testing.T) {
		accepted := make(chan struct{})
		u := rawServer(t, func(c net.Conn) {
			close(accepted)
			_, _ = io.ReadAll(c)
		})
		ctx, cancel := context.WithCancel(context.Background())
		cli := newSock(t)
		errc := make(chan error, 1)
		go func() { errc <- cli.DialOptions(u, map[string]any{transport.OptionContext: ctx}) }()
		<-accepted
		start := time.Now()
		cancel()
		tm := time.NewTimer(5 * time.Second)
		defer tm.Stop()
		select {
		case err := <-errc:
			if err != mangos.ErrClosed {
				t.Fatalf("dial: %v, want mangos.ErrClosed", err)
			}
		case <-tm.C:
			t.Fatal("dial did not return after its context ended")
		}
		t.Logf("dial aborted %v after cancel", time.Since(start).Round(time.Microsecond))
		// A closed dialer refuses at once.
		if err := cli.DialOptions(u, map[string]any{transport.OptionContext: ctx}); err != mangos.ErrClosed {
			t.Fatalf("dial with ended context: %v, want mangos.ErrClosed", err)
		}
	})
}

func TestBoundAddress(t *testing.T) {
	cases := []struct {
		listen string
		re     string
	}{
		{"tcp://127.0.0.1:0", `^tcp://127\.0\.0\.1:(\d+)$`},
		{"tcp4://127.0.0.1:0/", `^tcp4://127\.0\.0\.1:(\d+)/$`},
		{"tcp://localhost:0", `^tcp://localhost:(\d+)$`},
		{"tcp://*:0", `^tcp://:(\d+)$`},
		{"tcp://:0", `^tcp://:(\d+)$`},
		{"tcp://127.0.0.1", `^tcp://127\.0\.0\.1:(\d+)$`},
		{"TCP://127.0.0.1:0", `^tcp://127\.0\.0\.1:(\d+)$`},
	}
	if hasIPv6() {
		cases = append(cases, struct{ listen, re string }{"tcp6://[::1]:0", `^tcp6://\[::1\]:(\d+)$`})
	}
	for _, c := range cases {
		t.Run(c.listen, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			l, _ := listen(t, srv, c.listen, nil)
			m := checkBoundPort(t, l, c.re)
			host := "127.0.0.1"
			if strings.HasPrefix(c.listen, "tcp6") {
				host = "[::1]"
			}
			du, err := transport.Rewrite("tcp://" + host + ":" + m[1])
			must(t, err)
			must(t, cli.Dial(du))
			must(t, cli.Send([]byte("x")))
			_, err = srv.Recv()
			must(t, err)
		})
	}
}

func TestAbstractAutobind(t *testing.T) {
	srv, cli := newSock(t), newSock(t)
	l, du := listen(t, srv, "abstract://", nil)
	if !regexp.MustCompile(`^abstract://[0-9a-f]{5}$`).MatchString(l.Address()) {
		t.Fatalf("address %q, want a kernel-chosen name", l.Address())
	}
	must(t, cli.Dial(du))
	must(t, cli.Send([]byte("auto")))
	got, err := srv.Recv()
	must(t, err)
	if string(got) != "auto" {
		t.Fatalf("got %q", got)
	}
}

func TestAbstractEncodedName(t *testing.T) {
	srv, cli := newSock(t), newSock(t)
	name := strings.TrimPrefix(uniqueAbstract(), "abstract://")
	_, du := listen(t, srv, "abstract://%00"+name+"%20x", nil)
	// The same bytes, spelled differently, reach the same socket.
	u, err := transport.Rewrite("abstract://%00" + name + " x")
	must(t, err)
	if u == du {
		t.Fatal("spellings should differ")
	}
	must(t, cli.Dial(u))
	must(t, cli.Send([]byte("nul")))
	_, err = srv.Recv()
	must(t, err)
}

func TestIPCPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "perm.sock")
	srv := newSock(t)
	l, _ := listen(t, srv, "ipc://"+path, map[string]any{transport.OptionIPCPermissions: 0o600})
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	v, err := l.GetOption(transport.OptionIPCPermissions)
	must(t, err)
	if v != 0o600 {
		t.Errorf("option %v", v)
	}
	wantCode(t, l.SetOption(transport.OptionIPCPermissions, 0o644), nanoact.ErrBusy)
	if err := l.SetOption(transport.OptionIPCPermissions, 0o10000); err != nil && err != mangos.ErrBadValue {
		t.Errorf("bad mode: %v", err)
	}
	must(t, l.Close())
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
	// Permissions are an ipc-only option.
	u, err := transport.Rewrite("tcp://127.0.0.1:0")
	must(t, err)
	if _, err := srv.NewListener(u, map[string]any{transport.OptionIPCPermissions: 0o600}); err != mangos.ErrBadOption {
		t.Errorf("tcp permissions: %v, want mangos.ErrBadOption", err)
	}
}

func TestDialErrors(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	free := ln.Addr().String()
	must(t, ln.Close())
	dir := t.TempDir()

	cases := []struct {
		url  string
		want *nanoact.Error
	}{
		{"tcp://" + free, nanoact.ErrConnRefused},
		{"ipc://" + filepath.Join(dir, "missing.sock"), nanoact.ErrConnRefused},
		{uniqueAbstract(), nanoact.ErrConnRefused},
		{"tcp://127.0.0.1", nanoact.ErrAddrInvalid}, // dialing needs a port
		{"tcp://:5555", nanoact.ErrAddrInvalid},     // and a host
		{"abstract://", nanoact.ErrAddrInvalid},     // and a name
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			u, err := transport.Rewrite(c.url)
			must(t, err)
			err = newSock(t).Dial(u)
			wantCode(t, err, c.want)
			var ne *nanoact.Error
			if !errors.As(err, &ne) || !strings.Contains(ne.Op, c.url) {
				t.Errorf("error %v does not name %s", err, c.url)
			}
		})
	}
}

func TestListenErrors(t *testing.T) {
	t.Run("tcp-in-use", func(t *testing.T) {
		_, du := listen(t, newSock(t), "tcp://127.0.0.1:0", nil)
		err := newSock(t).Listen(du)
		wantCode(t, err, nanoact.ErrAddrInUse)
	})
	t.Run("ipc-in-use", func(t *testing.T) {
		_, du := listen(t, newSock(t), "ipc://"+filepath.Join(t.TempDir(), "busy.sock"), nil)
		wantCode(t, newSock(t).Listen(du), nanoact.ErrAddrInUse)
	})
	t.Run("abstract-in-use", func(t *testing.T) {
		_, du := listen(t, newSock(t), uniqueAbstract(), nil)
		wantCode(t, newSock(t).Listen(du), nanoact.ErrAddrInUse)
	})
	t.Run("ipc-stale", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "stale.sock")
		ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		must(t, err)
		ul.SetUnlinkOnClose(false)
		must(t, ul.Close()) // leaves a socket file with nobody behind it
		srv, cli := newSock(t), newSock(t)
		_, du := listen(t, srv, "ipc://"+path, nil)
		must(t, cli.Dial(du))
	})
	t.Run("ipc-regular-file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		must(t, os.WriteFile(path, nil, 0o600))
		u, err := transport.Rewrite("ipc://" + path)
		must(t, err)
		wantCode(t, newSock(t).Listen(u), nanoact.ErrAddrInUse)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("regular file removed: %v", err)
		}
	})
	t.Run("tcp6-with-ipv4", func(t *testing.T) {
		u, err := transport.Rewrite("tcp6://127.0.0.1:0")
		must(t, err)
		wantCode(t, newSock(t).Listen(u), nanoact.ErrAddrInvalid)
	})
}

// TestCloseDuringTraffic closes both sockets while messages flow in both
// directions, under the race detector.
func TestCloseDuringTraffic(t *testing.T) {
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			_, du := listen(t, srv, tc.url, nil)
			must(t, cli.Dial(du))
			var wg sync.WaitGroup
			for _, s := range []mangos.Socket{srv, cli} {
				wg.Go(func() {
					for s.Send(pattern(100)) == nil {
					}
				})
				wg.Go(func() {
					for {
						if _, err := s.Recv(); err != nil {
							return
						}
					}
				})
			}
			// Let traffic start, then close both ends.
			_, err := srv.Recv()
			must(t, err)
			must(t, cli.Close())
			must(t, srv.Close())
			wg.Wait()
		})
	}
}

// TestRawFraming checks the exact bytes on the wire for tcp and ipc.
func TestRawFraming(t *testing.T) {
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSock(t)
			l, _ := listen(t, srv, tc.url, nil)
			c := rawDial(t, l)
			hello := []byte{0, 'S', 'P', 0, 0, 0x10, 0, 0}
			_, err := c.Write(hello)
			must(t, err)
			var in [8]byte
			_, err = io.ReadFull(c, in[:])
			must(t, err)
			ipc := !strings.HasPrefix(tc.name, "tcp")
			frame := func(body string) []byte {
				var b []byte
				if ipc {
					b = append(b, 1)
				}
				b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
				return append(b, body...)
			}
			_, err = c.Write(append(frame("abc"), frame("")...))
			must(t, err)
			for _, want := range []string{"abc", ""} {
				got, err := srv.Recv()
				must(t, err)
				if string(got) != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
			must(t, srv.Send([]byte("xyz")))
			want := frame("xyz")
			got := make([]byte, len(want))
			must(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			_, err = io.ReadFull(c, got)
			must(t, err)
			if !bytes.Equal(got, want) {
				t.Fatalf("wire % x, want % x", got, want)
			}
		})
	}
}

// rawHandshake connects to l and completes the SP handshake as pair0.
func rawHandshake(t *testing.T, l mangos.Listener) net.Conn {
	t.Helper()
	c := rawDial(t, l)
	_, err := c.Write([]byte{0, 'S', 'P', 0, 0, 0x10, 0, 0})
	must(t, err)
	var in [8]byte
	_, err = io.ReadFull(c, in[:])
	must(t, err)
	return c
}

// TestIPCBadMessageType sends an ipc frame whose type byte is not 1: the
// pipe is closed.
func TestIPCBadMessageType(t *testing.T) {
	srv := newSock(t)
	l, _ := listen(t, srv, "ipc://"+filepath.Join(t.TempDir(), "t.sock"), nil)
	c := rawHandshake(t, l)
	_, err := c.Write([]byte{2, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
	must(t, err)
	if _, err := readUntilClosed(t, c, 10*time.Second); err != io.EOF && !errors.Is(err, syscallECONNRESET) {
		t.Fatalf("read: %v, want the pipe closed", err)
	}
}

// TestForgedLength announces a 1 TiB message with no receive limit and
// sends a few bytes: the pipe must fail cleanly, without trying to
// allocate the announced size, and the socket keeps working.
func TestForgedLength(t *testing.T) {
	for _, tc := range matrix(t)[:2] { // tcp and ipc framings
		t.Run(tc.name, func(t *testing.T) {
			srv := newSock(t)
			detached := make(chan struct{}, 4)
			srv.SetPipeEventHook(func(ev mangos.PipeEvent, _ mangos.Pipe) {
				if ev == mangos.PipeEventDetached {
					detached <- struct{}{}
				}
			})
			must(t, srv.SetOption(mangos.OptionMaxRecvSize, 0))
			l, du := listen(t, srv, tc.url, nil)
			c := rawHandshake(t, l)
			var frame []byte
			if tc.name != "tcp" {
				frame = append(frame, 1)
			}
			frame = binary.BigEndian.AppendUint64(frame, 1<<40)
			frame = append(frame, pattern(3<<20)...) // past the first 64 KiB buffer
			_, err := c.Write(frame)
			must(t, err)
			must(t, c.Close())
			tm := time.NewTimer(10 * time.Second)
			defer tm.Stop()
			select {
			case <-detached: // pair0 takes one peer at a time
			case <-tm.C:
				t.Fatal("pipe with a forged length not closed")
			}

			cli := newSock(t)
			must(t, cli.Dial(du))
			must(t, cli.Send([]byte("fine")))
			got, err := srv.Recv()
			must(t, err)
			if string(got) != "fine" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// TestDialSourceAddress uses NNG's tcp://src;host:port form.
func TestDialSourceAddress(t *testing.T) {
	srv, cli := newSock(t), newSock(t)
	pipes := make(chan mangos.Pipe, 4)
	cli.SetPipeEventHook(func(ev mangos.PipeEvent, p mangos.Pipe) {
		if ev == mangos.PipeEventAttached {
			pipes <- p
		}
	})
	l, _ := listen(t, srv, "tcp://127.0.0.1:0", nil)
	port, err := l.GetOption(transport.OptionTCPBoundPort)
	must(t, err)
	u, err := transport.Rewrite("tcp://127.0.0.1;127.0.0.1:" + strconv.Itoa(port.(int)))
	must(t, err)
	must(t, cli.Dial(u))
	a, err := (<-pipes).GetOption(mangos.OptionLocalAddr)
	must(t, err)
	if ip := a.(*net.TCPAddr).IP.String(); ip != "127.0.0.1" {
		t.Errorf("local address %v", a)
	}
}

// exchangeMany sends 2,000 messages of up to 300 bytes each way at once
// between two connected sockets and checks that every one arrives intact
// and in order.
func exchangeMany(t *testing.T, srv, cli mangos.Socket) {
	t.Helper()
	const n = 2000
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, s := range []mangos.Socket{srv, cli} {
		wg.Go(func() {
			for i := range n {
				if err := s.Send(pattern(i % 300)); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	for _, s := range []mangos.Socket{srv, cli} {
		for i := range n {
			got, err := s.Recv()
			must(t, err)
			if !bytes.Equal(got, pattern(i%300)) {
				t.Fatalf("message %d differs", i)
			}
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// checkBoundPort checks that listener l on port 0 reports the port it
// bound, in its address (which must match re, the port as its first
// group), in tcp-bound-port and in its local address; it returns re's
// submatches.
func checkBoundPort(t *testing.T, l mangos.Listener, re string) []string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(l.Address())
	if m == nil {
		t.Fatalf("address %q does not match %s", l.Address(), re)
	}
	port, _ := strconv.Atoi(m[1])
	if port == 0 {
		t.Fatal("port 0 reported")
	}
	v, err := l.GetOption(transport.OptionTCPBoundPort)
	must(t, err)
	if v != port {
		t.Errorf("tcp-bound-port %v, want %d", v, port)
	}
	a, err := l.GetOption(mangos.OptionLocalAddr)
	must(t, err)
	if a.(*net.TCPAddr).Port != port {
		t.Errorf("local addr %v, want port %d", a, port)
	}
	return m
}

// roundTrips sends a patterned payload of each size from cli to srv and
// back, checking it arrives intact both ways.
func roundTrips(t *testing.T, srv, cli mangos.Socket, sizes ...int) {
	t.Helper()
	for _, n := range sizes {
		want := pattern(n)
		must(t, cli.Send(want))
		got, err := srv.Recv()
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: client to server payload differs", n)
		}
		must(t, srv.Send(got))
		back, err := cli.Recv()
		must(t, err)
		if !bytes.Equal(back, want) {
			t.Fatalf("%d bytes: server to client payload differs", n)
		}
	}
}
