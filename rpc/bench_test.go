package rpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	mrep "go.nanomsg.org/mangos/v3/protocol/rep"
	mreq "go.nanomsg.org/mangos/v3/protocol/req"
	_ "go.nanomsg.org/mangos/v3/transport/inproc"
	_ "go.nanomsg.org/mangos/v3/transport/tcp"

	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

// BenchmarkRPC measures a request/reply call through rpc.Server and
// rpc.Client (8 workers, 8 B payloads echoed) beside the same exchange
// with plain mangos req/rep sockets and a goroutine per server context,
// in the same run. "seq" is one caller (ns/op = latency per request);
// "par" is GOMAXPROCS×8 callers (req/s reported).
func BenchmarkRPC(b *testing.B) {
	for _, tr := range []string{"inproc", "tcp"} {
		for _, mode := range []string{"seq", "par"} {
			b.Run(fmt.Sprintf("nanoact/%s/%s", tr, mode), func(b *testing.B) { benchNanoactRPC(b, tr, mode == "par") })
			b.Run(fmt.Sprintf("mangos/%s/%s", tr, mode), func(b *testing.B) { benchMangosRPC(b, tr, mode == "par") })
		}
	}
}

func benchURL(tr string) string {
	if tr == "inproc" {
		return fmt.Sprintf("inproc://rpc-bench-%d", seq.Add(1))
	}
	return "tcp://127.0.0.1:0"
}

func report(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func benchNanoactRPC(b *testing.B, tr string, par bool) {
	srv, err := rpc.NewServer(func(_ context.Context, p []byte) ([]byte, error) { return p, nil },
		rpc.WithListen(benchURL(tr)), rpc.WithWorkers(8),
		rpc.WithRPCOptions(rpc.RecvMode(sockets.Raw), rpc.SendMode(sockets.Raw)))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cl, err := rpc.NewClient(sockets.Dial(srv.URL(), sockets.Sync))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	payload := []byte("8 bytes!")
	call := func() {
		if _, err := rpc.Call[[]byte](ctx, cl, payload, rpc.SendMode(sockets.Raw), rpc.RecvMode(sockets.Raw)); err != nil {
			b.Error(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if par {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				call()
			}
		})
	} else {
		for range b.N {
			call()
		}
	}
	report(b, start)
}

func benchMangosRPC(b *testing.B, tr string, par bool) {
	rep, _ := mrep.NewSocket()
	defer rep.Close()
	url := benchURL(tr)
	l, err := rep.NewListener(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Listen(); err != nil {
		b.Fatal(err)
	}
	if tr == "tcp" {
		url = l.Address()
	}
	done := make(chan struct{})
	for range 8 {
		c, _ := rep.OpenContext()
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				m, err := c.RecvMsg()
				if err != nil {
					return
				}
				if c.SendMsg(m) != nil {
					return
				}
			}
		}()
	}
	req, _ := mreq.NewSocket()
	defer req.Close()
	if err := req.Dial(url); err != nil {
		b.Fatal(err)
	}
	payload := []byte("8 bytes!")
	call := func(c mangos.Context) {
		if err := c.Send(payload); err != nil {
			b.Error(err)
			return
		}
		if _, err := c.Recv(); err != nil {
			b.Error(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if par {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			c, _ := req.OpenContext()
			defer c.Close()
			for pb.Next() {
				call(c)
			}
		})
	} else {
		c, _ := req.OpenContext()
		for range b.N {
			call(c)
		}
		_ = c.Close()
	}
	report(b, start)
	_ = rep.Close()
	for range 8 {
		<-done
	}
}
