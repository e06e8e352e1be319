//go:build unix

package sockets_test

import (
	"syscall"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// noDelay reads TCP_NODELAY from the stream's connection.
func noDelay(t *testing.T, s *sockets.Stream) bool {
	t.Helper()
	tc := sockets.StreamTCPConn(s)
	if tc == nil {
		t.Fatal("no TCP connection under the stream")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return v != 0
}

// tcp-nodelay and tcp-keepalive apply to ws and wss streams as to tcp
// ones; ipc streams have no such option.
func TestStreamTCPOptionsOnWebsockets(t *testing.T) {
	t.Parallel()
	c := writeCert(t, "127.0.0.1")
	for name, url := range map[string]string{
		"tcp": "tcp://127.0.0.1:0",
		"ws":  "ws://127.0.0.1:0/opts",
		"wss": "wss://127.0.0.1:0/opts",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var cli, srv *sockets.Stream
			if name == "wss" {
				cli, srv = wssPair(t, url, c)
			} else {
				cli, srv = streamPair(t, url)
			}
			for _, s := range []*sockets.Stream{cli, srv} {
				for _, want := range []bool{false, true} {
					if err := sockets.Set(s, sockets.TCPNoDelay, want); err != nil {
						t.Fatalf("set tcp-nodelay %v: %v", want, err)
					}
					if got := noDelay(t, s); got != want {
						t.Fatalf("TCP_NODELAY %v after setting %v", got, want)
					}
				}
				if err := sockets.Set(s, sockets.TCPKeepAlive, true); err != nil {
					t.Fatalf("set tcp-keepalive: %v", err)
				}
			}
		})
	}
	cli, _ := streamPair(t, "ipc://"+t.TempDir()+"/s.ipc")
	wantCode(t, sockets.Set(cli, sockets.TCPNoDelay, true), nanoact.ErrNotSupported)
}
