package sockets_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	mpull "go.nanomsg.org/mangos/v3/protocol/pull"
	mpush "go.nanomsg.org/mangos/v3/protocol/push"
	_ "go.nanomsg.org/mangos/v3/transport/ipc"
	_ "go.nanomsg.org/mangos/v3/transport/tcp"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

var benchSizes = []int{8, 1024, 64 << 10}

func benchURL(b *testing.B, tr string) string {
	switch tr {
	case "inproc":
		return fmt.Sprintf("inproc://bench-%d", seq.Add(1))
	case "ipc":
		return "ipc://" + filepath.Join(b.TempDir(), "b.ipc")
	}
	return "tcp://127.0.0.1:0"
}

// BenchmarkReqRep measures one request/reply round trip, nanoact beside
// plain mangos in the same run (ns/op is the round trip).
func BenchmarkReqRep(b *testing.B) {
	for _, tr := range []string{"inproc", "ipc", "tcp"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("nanoact/%s/%d", tr, size), func(b *testing.B) { benchNanoactReqRep(b, tr, size) })
			b.Run(fmt.Sprintf("mangos/%s/%d", tr, size), func(b *testing.B) { testkit.BenchMangosReqRep(b, benchURL(b, tr), size) })
		}
	}
}

func benchNanoactReqRep(b *testing.B, tr string, size int) {
	rep, req := open(b, sockets.Rep), open(b, sockets.Req)
	connect(b, rep, req, benchURL(b, tr))
	ctx := context.Background()
	waitEcho := testkit.Echo(rep)
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := req.SendMsg(ctx, sockets.NewMsg(payload)); err != nil {
			b.Fatal(err)
		}
		m, err := req.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		m.Free()
	}
	_ = rep.Close()
	waitEcho()
}

// BenchmarkPushPull measures one-way throughput (msgs/s reported).
func BenchmarkPushPull(b *testing.B) {
	for _, tr := range []string{"inproc", "ipc", "tcp"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("nanoact/%s/%d", tr, size), func(b *testing.B) { benchNanoactPushPull(b, tr, size) })
			b.Run(fmt.Sprintf("mangos/%s/%d", tr, size), func(b *testing.B) { benchMangosPushPull(b, tr, size) })
		}
	}
}

func benchNanoactPushPull(b *testing.B, tr string, size int) {
	pull, push := open(b, sockets.Pull), open(b, sockets.Push)
	connect(b, pull, push, benchURL(b, tr))
	ctx := context.Background()
	payload := make([]byte, size)
	n := b.N
	got := make(chan struct{})
	go func() {
		defer close(got)
		for range n {
			m, err := pull.Recv(ctx)
			if err != nil {
				return
			}
			m.Free()
		}
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range n {
		if err := push.SendMsg(ctx, sockets.NewMsg(payload)); err != nil {
			b.Fatal(err)
		}
	}
	<-got
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

func benchMangosPushPull(b *testing.B, tr string, size int) {
	pull, _ := mpull.NewSocket()
	defer pull.Close()
	url := testkit.MangosListen(b, pull, benchURL(b, tr))
	push, _ := mpush.NewSocket()
	defer push.Close()
	if err := push.Dial(url); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	n := b.N
	got := make(chan struct{})
	go func() {
		defer close(got)
		for range n {
			m, err := pull.RecvMsg()
			if err != nil {
				return
			}
			m.Free()
		}
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range n {
		m := mangos.NewMessage(size)
		m.Body = append(m.Body, payload...)
		if err := push.SendMsg(m); err != nil {
			b.Fatal(err)
		}
	}
	<-got
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSerial measures one push/pull message in Serial mode, the
// default send and RecvAs decode through the socket's codec, over inproc
// (ns/op and allocs/op include both ends): a []byte of each house size and
// a small map[string]any.
func BenchmarkSerial(b *testing.B) {
	values := map[string]any{"map": map[string]any{"name": "r", "n": 42}}
	for _, size := range benchSizes {
		values[fmt.Sprintf("bytes/%d", size)] = make([]byte, size)
	}
	for _, name := range []string{"bytes/8", "bytes/1024", "bytes/65536", "map"} {
		v := values[name]
		b.Run(name, func(b *testing.B) {
			pull, push := open(b, sockets.Pull), open(b, sockets.Push)
			connect(b, pull, push, benchURL(b, "inproc"))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := push.Send(ctx, v); err != nil {
					b.Fatal(err)
				}
				if _, err := sockets.RecvAs[any](ctx, pull); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
