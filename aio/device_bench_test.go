package aio_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// BenchmarkDevice measures pipeline throughput (msgs/s, and MB/s through
// SetBytes) from a push socket to a pull socket, directly ("direct") and
// through a device ("device": push → raw pull | raw push → pull, two
// connections), over tcp and ipc, in NNG's payload sizes. "ratio" runs
// both pipelines in alternating rounds of 256 messages, so that both
// see the same machine load, and reports the device's time over the
// direct one's (x-direct; the target is 1.2 or less).
func BenchmarkDevice(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc"} {
		for _, size := range benchSizes {
			for _, via := range []string{"direct", "device"} {
				b.Run(fmt.Sprintf("%s/%s/%d", via, tr, size), func(b *testing.B) {
					push, pull := pipeline(b, tr, via == "device")
					b.SetBytes(int64(size))
					b.ReportAllocs()
					b.ResetTimer()
					d := pump(b, push, pull, size, b.N)
					b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
				})
			}
			b.Run(fmt.Sprintf("ratio/%s/%d", tr, size), func(b *testing.B) {
				dpush, dpull := pipeline(b, tr, false)
				vpush, vpull := pipeline(b, tr, true)
				b.SetBytes(int64(2 * size))
				b.ResetTimer()
				var direct, device time.Duration
				for left := b.N; left > 0; left -= 256 {
					n := min(left, 256)
					direct += pump(b, dpush, dpull, size, n)
					device += pump(b, vpush, vpull, size, n)
				}
				b.ReportMetric(float64(device)/float64(direct), "x-direct")
			})
		}
	}
}

// pipeline connects a push socket to a pull socket, directly or through
// a device.
func pipeline(b *testing.B, tr string, viaDevice bool) (push, pull *sockets.Socket) {
	push = open(b, sockets.Push)
	pull = open(b, sockets.Pull)
	if !viaDevice {
		connect(b, pull, push, deviceBenchURL(b, tr))
		return push, pull
	}
	in := open(b, sockets.Pull, sockets.WithRaw())
	out := open(b, sockets.Push, sockets.WithRaw())
	dev := aio.Device(in, out)
	b.Cleanup(dev.Stop)
	connect(b, in, push, deviceBenchURL(b, tr))
	connect(b, pull, out, deviceBenchURL(b, tr))
	return push, pull
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
