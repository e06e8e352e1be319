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
// connections), over tcp and ipc, in NNG's payload sizes. The device's
// target is within 1.2x of direct: compare the two with benchstat.
func BenchmarkDevice(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc"} {
		for _, size := range benchSizes {
			for _, via := range []string{"direct", "device"} {
				b.Run(fmt.Sprintf("%s/%s/%d", via, tr, size), func(b *testing.B) { benchDevice(b, tr, size, via == "device") })
			}
		}
	}
}

func deviceBenchURL(b *testing.B, tr string) string {
	if tr == "ipc" {
		return "ipc://" + testkit.IPCPath(b)
	}
	return "tcp://127.0.0.1:0"
}

func benchDevice(b *testing.B, tr string, size int, viaDevice bool) {
	push := open(b, sockets.Push)
	pull := open(b, sockets.Pull)
	if viaDevice {
		in := open(b, sockets.Pull, sockets.WithRaw())
		out := open(b, sockets.Push, sockets.WithRaw())
		dev := aio.Device(in, out)
		b.Cleanup(dev.Stop)
		connect(b, in, push, deviceBenchURL(b, tr))
		connect(b, pull, out, deviceBenchURL(b, tr))
	} else {
		connect(b, pull, push, deviceBenchURL(b, tr))
	}
	ctx := context.Background()
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	n := b.N
	sent := make(chan error, 1)
	b.ResetTimer()
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
	elapsed := time.Since(start)
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
}
