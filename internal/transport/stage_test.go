package transport_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact/internal/transport"
)

// atPage returns n bytes starting off bytes past a page boundary.
func atPage(n, off int) []byte {
	b := make([]byte, n+2*4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(&b[0])))%4096) % 4096
	return b[skip+off : skip+off+n]
}

func TestAliased(t *testing.T) {
	for _, c := range []struct {
		pos, off int
		want     bool
	}{
		{12, 0, true},   // tcp req/rep: length and id before a page-aligned body
		{8, 0, true},    // tcp push/pull
		{0, 0, true},    // same address modulo the page
		{15, 0, true},   // the window's last byte
		{16, 0, false},  // past the window
		{12, 64, false}, // source ahead of the destination
		{12, 4090, false},
		{4096 + 12, 0, true}, // modulo the page
	} {
		if got := transport.Aliased(c.pos, atPage(1, c.off)); got != c.want {
			t.Errorf("body at page offset %d written at %d: aliased %v, want %v", c.off, c.pos, got, c.want)
		}
	}
}

// An aliased body of a message alone on an idle connection is copied to
// a staging buffer that is not aliased; anything else is sent as it is.
func TestStageBody(t *testing.T) {
	for _, n := range []int{63 << 10, 64 << 10, 64<<10 + 1, 256 << 10} { // both staging pools' ends
		for _, pos := range []int{8, 12, 13} { // tcp and ipc frame heads
			b := atPage(n, 0)
			copy(b, pattern(n))
			out, release := transport.StageBody(true, pos, b)
			if unsafe.SliceData(out) == unsafe.SliceData(b) {
				t.Fatalf("%d-byte body at %d on an idle connection not staged", n, pos)
			}
			if !bytes.Equal(out, b) || transport.Aliased(pos, out) {
				t.Fatalf("%d-byte body at %d: staged copy equal %v, aliased %v", n, pos, bytes.Equal(out, b), transport.Aliased(pos, out))
			}
			release()
		}
	}
	body := atPage(64<<10, 0)
	for _, c := range []struct {
		name  string
		empty bool
		pos   int
		b     []byte
	}{
		{"busy connection", false, 12, body},
		{"not aliased", true, 12, atPage(64<<10, 64)},
		{"small", true, 12, atPage(63<<10-1, 0)},
		{"large", true, 12, atPage(256<<10+1, 0)},
	} {
		out, release := transport.StageBody(c.empty, c.pos, c.b)
		if unsafe.SliceData(out) != unsafe.SliceData(c.b) || len(out) != len(c.b) {
			t.Errorf("%s: staged", c.name)
		}
		release()
	}
}

// A tcp pipe's Send, and its SendBatch for the first frame, stage a
// page-aligned 64 KiB body behind a 4-byte header on an idle connection,
// and the peer reads the same frames; an ipc pipe never stages.
func TestSendStagesAliasedBody(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("bodies are staged on Linux on amd64 only")
	}
	for _, network := range []string{"tcp", "unix"} {
		for _, frames := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d", network, frames), func(t *testing.T) {
				cli, srv := connPair(t, network)
				defer srv.Close()
				var ms []*mangos.Message
				var want [][]byte
				for i := range frames {
					body := atPage(64<<10, 0)
					copy(body, pattern(len(body) + i)[i:])
					m := mangos.NewMessage(0)
					m.Header = append(m.Header, 0x80, 0, 0, byte(i))
					m.Body = body
					ms = append(ms, m)
					want = append(want, append(append([]byte{}, m.Header...), body...))
				}
				ipc := network == "unix"
				type result struct {
					staged uint64
					err    error
				}
				done := make(chan result, 1)
				go func() {
					n, err := transport.SendStaged(cli, ipc, ms...)
					_ = cli.Close() // ends RecvFrames
					done <- result{n, err}
				}()
				got, _ := transport.RecvFrames(srv, ipc, mangos.ProtoPair, 0, false)
				r := <-done
				must(t, r.err)
				if staged := uint64(1); ipc {
					staged = 0
					if r.staged != staged {
						t.Errorf("ipc pipe staged %d bodies", r.staged)
					}
				} else if r.staged != staged {
					t.Errorf("tcp pipe staged %d bodies, want %d (the first)", r.staged, staged)
				}
				if len(got) != len(want) {
					t.Fatalf("read %d frames, want %d", len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("frame %d differs from the one sent", i)
					}
				}
			})
		}
	}
}

// The out-queue check sees bytes the peer has not acknowledged: a peer
// that reads nothing, with small buffers, leaves a write's bytes queued.
func TestOutQueueEmpty(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("bodies are staged on Linux on amd64 only")
	}
	cli, srv := connPair(t, "tcp")
	defer cli.Close()
	defer srv.Close()
	if empty, ok := transport.OutQueueEmpty(cli); !ok || !empty {
		t.Fatalf("idle connection: empty %v ok %v", empty, ok)
	}
	must(t, srv.(*net.TCPConn).SetReadBuffer(4096))
	must(t, cli.(*net.TCPConn).SetWriteBuffer(4096))
	// A write that times out having written something was blocked by a
	// full send buffer: its bytes wait unacknowledged. One that wrote
	// nothing never started (Go checks the deadline first, and under load
	// the goroutine may reach Write late): write again.
	buf := make([]byte, 4<<20)
	for try := 0; ; try++ {
		must(t, cli.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
		n, err := cli.Write(buf)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write to a peer that reads nothing: %d bytes, %v", n, err)
		}
		if n > 0 {
			break
		}
		if try == 50 {
			t.Fatal("every write timed out before writing a byte")
		}
	}
	if empty, _ := transport.OutQueueEmpty(cli); empty {
		t.Fatal("out-queue empty with a write's bytes unread")
	}
	if _, ok := transport.OutQueueEmpty(srv.(*net.TCPConn)); !ok {
		t.Fatal("accepted tcp connection has no out-queue check")
	}
}

// connPair returns both ends of one tcp (loopback) or unix connection.
func connPair(t *testing.T, network string) (cli, srv net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s.sock")
	}
	ln, err := net.Listen(network, addr)
	must(t, err)
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	cli, err = net.Dial(network, ln.Addr().String())
	must(t, err)
	if srv = <-acc; srv == nil {
		_ = cli.Close()
		t.Fatal("accept failed")
	}
	return cli, srv
}
