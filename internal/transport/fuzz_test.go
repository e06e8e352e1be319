package transport_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

// The fuzz targets of this package, each a decoder of bytes a peer sends:
//
//	FuzzHandshake     the 8-byte SP header (tcp, ipc, abstract, tls+tcp)
//	FuzzStreamFrames  length-prefixed frames, tcp and ipc framing (tls+tcp
//	                  after its handshake is the tcp framing)
//	FuzzWSUpgrade     the HTTP upgrade request a ws listener reads
//	FuzzWSFrames      websocket frames after a good upgrade
//	FuzzRewrite       URL parsing (url_test.go)
//
// Seeds are in testdata/fuzz/<name>/; go test runs them as tests.

// FuzzHandshake feeds a peer's 8 bytes (or fewer) to the SP handshake of
// a pair0 endpoint and checks it accepts exactly a well-formed pair0
// header.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte{0, 'S', 'P', 0, 0, 0x10, 0, 0})
	f.Add([]byte{0, 'S', 'P', 0, 0, 0x11, 0, 0})
	f.Add([]byte{0, 'S', 'P', 1, 0, 0x10, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add([]byte{0, 'S', 'P'})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		done, finished := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			var ours [8]byte
			_, _ = io.ReadFull(b, ours[:])
			_, _ = b.Write(in) // returns when a closes, if in is longer than 8
			if len(in) >= 8 {
				<-finished // a closed pipe would fail the handshake's last step
			}
			_ = b.Close()
		}()
		err := transport.Handshake(a, 0x10, 0x10, 5*time.Second)
		close(finished)
		_ = a.Close()
		<-done
		good := len(in) >= 8 && bytes.Equal(in[:4], []byte{0, 'S', 'P', 0}) &&
			binary.BigEndian.Uint16(in[4:]) == 0x10 && in[6] == 0 && in[7] == 0
		if good != (err == nil) {
			t.Fatalf("header % x: err %v", in, err)
		}
		if err != nil {
			var ne *nanoact.Error
			if !errors.As(err, &ne) {
				t.Fatalf("error %T %v", err, err)
			}
		}
	})
}

// FuzzStreamFrames feeds bytes to a pipe's frame reader and checks it
// returns exactly the messages a plain reading of the framing gives, then
// fails with the right code: CodeMsgSize for a length over the limit,
// CodeProtocol for a bad ipc type byte, and otherwise the end of input.
func FuzzStreamFrames(f *testing.F) {
	frame := func(ipc bool, body string) []byte {
		var b []byte
		if ipc {
			b = append(b, 1)
		}
		return append(binary.BigEndian.AppendUint64(b, uint64(len(body))), body...)
	}
	f.Add(append(frame(false, "hello"), frame(false, "")...), false, uint16(64), false)
	f.Add(append(frame(true, "\x00\x00\x00\x01req"), frame(true, "ab")...), true, uint16(0), true)
	f.Add(frame(false, strings.Repeat("x", 100)), false, uint16(99), false)
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 1, 'x'}, true, uint16(0), false)
	f.Add(binary.BigEndian.AppendUint64(nil, 8<<30), false, uint16(0), false)
	f.Fuzz(func(t *testing.T, in []byte, ipc bool, limit uint16, split bool) {
		a, b := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = b.Write(in)
			_ = b.Close()
		}()
		got, err := transport.RecvFrames(a, ipc, mangos.ProtoRep, int(limit), split)
		_ = b.Close() // unblocks the writer if the reader stopped early
		<-done

		// The framing, read plainly.
		var want [][]byte
		var code nanoact.Code
		rest := in
		hdr := 8
		if ipc {
			hdr = 9
		}
		for {
			if len(rest) < hdr {
				code = nanoact.CodeConnShut // end of input
				break
			}
			if ipc && rest[0] != 1 {
				code = nanoact.CodeProtocol
				break
			}
			n := binary.BigEndian.Uint64(rest[hdr-8:])
			rest = rest[hdr:]
			if limit > 0 && n > uint64(limit) || n > math.MaxInt64 {
				code = nanoact.CodeMsgSize
				break
			}
			if n > uint64(len(rest)) {
				code = nanoact.CodeConnShut
				break
			}
			want = append(want, rest[:n])
			rest = rest[n:]
		}
		if len(got) != len(want) {
			t.Fatalf("%d messages, want %d (err %v)", len(got), len(want), err)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("message %d: % x, want % x", i, got[i], want[i])
			}
		}
		if code != nanoact.CodeConnShut && nanoact.CodeOf(err) != code {
			t.Fatalf("ended with %v (code %v), want code %v", err, nanoact.CodeOf(err), code)
		}
		if err == nil {
			t.Fatal("no error at the end of input")
		}
	})
}

// wsFuzzTarget is a pair0 socket listening on ws for the ws fuzzers, with
// a goroutine draining what it receives. It is closed at cleanup.
func wsFuzzTarget(f *testing.F) (addr string) {
	srv := newSock(f)
	must(f, srv.SetOption(mangos.OptionMaxRecvSize, 1<<20))
	l, _ := listen(f, srv, "ws://127.0.0.1:0/fuzz", map[string]any{
		transport.OptionHandshakeTimeout: 2 * time.Second,
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := srv.Recv(); errors.Is(err, mangos.ErrClosed) {
				return
			}
		}
	}()
	f.Cleanup(func() { _ = srv.Close(); <-done })
	v, err := l.GetOption(mangos.OptionLocalAddr)
	must(f, err)
	return v.(net.Addr).String()
}

// wsExchange writes in to a new connection to addr, half-closes it, and
// reads until the listener closes it; it fails t if the listener neither
// answers nor closes in 10 s.
func wsExchange(t *testing.T, addr string, in []byte) []byte {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Write(in)
	_ = c.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("listener neither answered nor closed: %v", err)
	}
	return out
}

const wsUpgrade = "GET /fuzz HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Protocol: pair.sp.nanomsg.org\r\n\r\n"

// FuzzWSUpgrade sends arbitrary bytes as the upgrade request to a ws
// listener: it must answer with an HTTP status line or hang up, and go on
// serving.
func FuzzWSUpgrade(f *testing.F) {
	addr := wsFuzzTarget(f)
	f.Add([]byte(wsUpgrade))
	f.Add([]byte(strings.Replace(wsUpgrade, "pair.sp", "req.sp", 1)))
	f.Add([]byte(strings.Replace(wsUpgrade, "/fuzz", "/other", 1)))
	f.Add([]byte("GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 100) + "\r\n"))
	f.Add([]byte("\x00SP\x00\x00\x10\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := wsExchange(t, addr, in)
		if len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
			t.Fatalf("answer %q", out)
		}
	})
}

// FuzzWSFrames upgrades a connection properly and then sends arbitrary
// bytes as websocket frames: the listener takes what is well-formed and
// closes the connection at the first fault or at the end, and goes on
// serving.
func FuzzWSFrames(f *testing.F) {
	addr := wsFuzzTarget(f)
	// A masked binary frame with a zero mask key: the payload as is.
	frame := func(op byte, fin bool, payload string) []byte {
		b0 := op
		if fin {
			b0 |= 0x80
		}
		b := []byte{b0}
		switch n := len(payload); {
		case n < 126:
			b = append(b, 0x80|byte(n))
		default:
			b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
		}
		return append(append(b, 0, 0, 0, 0), payload...)
	}
	f.Add(frame(2, true, "hello"))
	f.Add(append(frame(2, false, "hel"), frame(0, true, "lo")...))
	f.Add(frame(1, true, "text is refused"))
	f.Add(append(frame(9, true, "ping"), frame(2, true, strings.Repeat("y", 300))...))
	f.Add(frame(8, true, "\x03\xe8bye"))
	f.Add([]byte{0x82, 0x7f, 0, 0, 0, 2, 0, 0, 0, 0}) // announces 8 GiB
	f.Fuzz(func(t *testing.T, in []byte) {
		out := wsExchange(t, addr, append([]byte(wsUpgrade), in...))
		if len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
			t.Fatalf("answer %q", out)
		}
	})
}
