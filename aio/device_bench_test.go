package aio_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// BenchmarkDevice measures pipeline throughput (msgs/s, and MB/s through
// SetBytes) from a push socket to a pull socket, over tcp and ipc, in
// NNG's payload sizes: directly ("direct"), through a device ("device":
// push → raw pull | raw push → pull, two connections), and through the
// floor for that extra hop ("relay": a plain Go relay with no library,
// one goroutine reading the SP frames from the push side's connection and
// writing each to the pull side's with one writev, as the transports
// do). "ratio" runs the three pipelines in alternating rounds of 256
// messages, so that all see the same machine load, and reports the
// device's time over the direct one's (x-direct; the target is 1.2 or
// less), the relay's over the direct one's (relay-x-direct: what any
// extra hop costs here) and the device's over the relay's (x-relay), and
// the same ratios of the process's CPU time (cpu-x-direct,
// relay-cpu-x-direct), which a machine shared with other work disturbs
// less than the wall clock. "ratio-noroom" is "ratio" with a device that
// holds no room for a burst on its sending socket (as devices did before
// they held it: a burst then waits for each write), and "ratio-sendbuf"
// is "ratio" with a send-buffer of 128 messages set on that socket (0 by
// default, as in NNG) as well. "ratio-splice" is "ratio" with a relay
// that copies bytes, not frames, with splice(2) on Linux (zero-copy: the
// kernel moves the pages through a pipe and nothing reaches user space;
// valid here because both connections frame alike): what a zero-copy
// device could reach at best.
func BenchmarkDevice(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc"} {
		for _, size := range benchSizes {
			for _, via := range []string{"direct", "device", "relay"} {
				b.Run(fmt.Sprintf("%s/%s/%d", via, tr, size), func(b *testing.B) {
					push, pull := pipeline(b, tr, via, 0)
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					c0, ok0 := cpuTime()
					d := pump(b, push, pull, size, b.N)
					c1, ok1 := cpuTime()
					b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
					if ok0 && ok1 {
						b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/msg")
					}
				})
			}
			for _, v := range []struct {
				name          string
				sendBuf, room int
				relay         string
			}{
				{"ratio", 0, aio.DeviceRoom(), "relay"},
				{"ratio-noroom", 0, 0, "relay"},
				{"ratio-sendbuf", 128, aio.DeviceRoom(), "relay"},
				{"ratio-splice", 0, aio.DeviceRoom(), "splice"},
			} {
				b.Run(fmt.Sprintf("%s/%s/%d", v.name, tr, size), func(b *testing.B) {
					defer aio.SetDeviceRoom(v.room)()
					ratio(b, tr, size, v.sendBuf, v.relay)
				})
			}
		}
	}
}

// ratio runs the three pipelines in alternating rounds and reports their
// ratios (see BenchmarkDevice); sendBuf is the send-buffer of the
// device's sending socket, relay the relay's kind ("relay" or "splice").
func ratio(b *testing.B, tr string, size, sendBuf int, relay string) {
	dpush, dpull := pipeline(b, tr, "direct", 0)
	vpush, vpull := pipeline(b, tr, "device", sendBuf)
	rpush, rpull := pipeline(b, tr, relay, 0)
	b.SetBytes(int64(3 * size))
	b.ResetTimer()
	var wall, cpu [3]time.Duration
	cpuOK := true
	for left := b.N; left > 0; left -= 256 {
		n := min(left, 256)
		for i, p := range [][2]*sockets.Socket{{dpush, dpull}, {vpush, vpull}, {rpush, rpull}} {
			c0, ok0 := cpuTime()
			wall[i] += pump(b, p[0], p[1], size, n)
			c1, ok1 := cpuTime()
			cpu[i] += c1 - c0
			cpuOK = cpuOK && ok0 && ok1
		}
	}
	b.ReportMetric(float64(wall[1])/float64(wall[0]), "x-direct")
	b.ReportMetric(float64(wall[2])/float64(wall[0]), "relay-x-direct")
	b.ReportMetric(float64(wall[1])/float64(wall[2]), "x-relay")
	if cpuOK {
		b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-x-direct")
		b.ReportMetric(float64(cpu[2])/float64(cpu[0]), "relay-cpu-x-direct")
	}
}

// pipeline connects a push socket to a pull socket: directly, through a
// device, or through a plain Go relay of frames or of bytes (via
// "direct", "device", "relay", "splice").
// sendBuf is the send-buffer option of a device's sending socket.
func pipeline(b *testing.B, tr, via string, sendBuf int) (push, pull *sockets.Socket) {
	push = open(b, sockets.Push)
	pull = open(b, sockets.Pull)
	switch via {
	case "direct":
		connect(b, pull, push, deviceBenchURL(b, tr))
	case "device":
		in := open(b, sockets.Pull, sockets.WithRaw())
		out := open(b, sockets.Push, sockets.WithRaw())
		if err := sockets.Set(out, sockets.SendBuffer, sendBuf); err != nil {
			b.Fatal(err)
		}
		dev := aio.Device(in, out)
		b.Cleanup(dev.Stop)
		connect(b, in, push, deviceBenchURL(b, tr))
		connect(b, pull, out, deviceBenchURL(b, tr))
	case "relay", "splice":
		startRelay(b, tr, push, pull, via == "splice")
	default:
		b.Fatalf("pipeline via %q", via)
	}
	return push, pull
}

// startRelay puts a plain Go relay between push and pull: it listens
// where push dials, dials where pull listens, does the SP handshakes as a
// pull and a push socket would, and copies frame after frame on one
// goroutine, reading through a bufio.Reader as the transports do and
// writing each frame with one writev. It knows nothing of SP beyond the
// framing: the floor for a device's extra hop. With bytes set it copies
// the connection's bytes instead (copyBytes: splice(2) on Linux).
func startRelay(b *testing.B, tr string, push, pull *sockets.Socket, bytes bool) {
	b.Helper()
	ln, err := pull.Listen(deviceBenchURL(b, tr))
	if err != nil {
		b.Fatal(err)
	}
	network, addr := "tcp", strings.TrimPrefix(ln.URL(), "tcp://")
	if tr == "ipc" {
		network, addr = "unix", strings.TrimPrefix(ln.URL(), "ipc://")
	}
	out, err := net.Dial(network, addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = out.Close() })
	const pushProto, pullProto = 0x50, 0x51
	relayHandshake(b, out, pushProto, pullProto)

	inAddr := "127.0.0.1:0"
	if tr == "ipc" {
		inAddr = testkit.IPCPath(b)
	}
	l, err := net.Listen(network, inAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	url := "tcp://" + l.Addr().String()
	if tr == "ipc" {
		url = "ipc://" + inAddr
	}
	dialed := make(chan error, 1)
	go func() {
		_, err := push.Dial(url, sockets.Sync)
		dialed <- err
	}()
	in, ok := <-accepted
	if !ok {
		b.Fatal("relay: accept failed")
	}
	b.Cleanup(func() { _ = in.Close() })
	relayHandshake(b, in, pullProto, pushProto)
	if err := <-dialed; err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	b.Cleanup(func() {
		_ = in.Close()
		_ = out.Close()
		<-done
	})
	go func() {
		defer close(done)
		if bytes {
			copyBytes(out, in)
			return
		}
		relayFrames(in, out, tr == "ipc")
	}()
}

// relayHandshake sends the SP header of protocol self on c and reads the
// peer's, which must be peer's.
func relayHandshake(b *testing.B, c net.Conn, self, peer uint16) {
	b.Helper()
	hdr := [8]byte{0, 'S', 'P', 0, byte(self >> 8), byte(self), 0, 0}
	if _, err := c.Write(hdr[:]); err != nil {
		b.Fatal(err)
	}
	var got [8]byte
	if _, err := io.ReadFull(c, got[:]); err != nil {
		b.Fatal(err)
	}
	if binary.BigEndian.Uint16(got[4:6]) != peer {
		b.Fatalf("relay: peer speaks %#x", got[4:6])
	}
}

// relayFrames copies SP frames (an 8-byte big-endian length, after a
// 0x01 type byte on ipc) from in to out until either fails.
func relayFrames(in, out net.Conn, ipc bool) {
	r := bufio.NewReaderSize(in, 32<<10)
	pre := 8
	if ipc {
		pre = 9
	}
	hdr := make([]byte, pre)
	var body []byte
	var vec [2][]byte // one writev's buffers, kept: no allocation per frame
	var bufs net.Buffers
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		n := binary.BigEndian.Uint64(hdr[pre-8:])
		if n > 64<<20 {
			return
		}
		if uint64(cap(body)) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		vec[0], vec[1] = hdr, body
		bufs = vec[:]
		if _, err := bufs.WriteTo(out); err != nil {
			return
		}
	}
}

func deviceBenchURL(b *testing.B, tr string) string {
	if tr == "ipc" {
		return "ipc://" + testkit.IPCPath(b)
	}
	return "tcp://127.0.0.1:0"
}

// pump sends n messages of size bytes on push from a goroutine, receives
// them on pull, and returns the time taken.
func pump(b *testing.B, push, pull *sockets.Socket, size, n int) time.Duration {
	ctx := context.Background()
	payload := make([]byte, size)
	sent := make(chan error, 1)
	start := time.Now()
	go func() {
		for range n {
			if err := push.Send(ctx, payload, sockets.Raw); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for range n {
		m, err := pull.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		m.Free()
	}
	d := time.Since(start)
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
	return d
}
