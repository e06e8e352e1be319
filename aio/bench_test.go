package aio_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.nanomsg.org/mangos/v3"
	mpull "go.nanomsg.org/mangos/v3/protocol/pull"
	mpush "go.nanomsg.org/mangos/v3/protocol/push"
	_ "go.nanomsg.org/mangos/v3/transport/inproc"
	_ "go.nanomsg.org/mangos/v3/transport/tcp"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

var (
	benchSizes      = []int{8, 1024, 64 << 10}
	benchTransports = []string{"inproc", "tcp"}
)

func benchURL(tr string) string {
	if tr == "tcp" {
		return "tcp://127.0.0.1:0"
	}
	return inprocURL()
}

// BenchmarkReqRep measures one request/reply round trip (ns/op), three
// ways in the same run: the requester using aio.Send and aio.Recv, the
// requester using the sockets package's blocking calls, and plain mangos
// on both sides. The replier is a plain blocking loop in the first two.
// Compare aio with mangos for the aio target, and aio with sockets for the
// aio layer's own cost.
func BenchmarkReqRep(b *testing.B) {
	for _, tr := range benchTransports {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("aio/%s/%d", tr, size), func(b *testing.B) { benchReqRep(b, tr, size, true) })
			b.Run(fmt.Sprintf("sockets/%s/%d", tr, size), func(b *testing.B) { benchReqRep(b, tr, size, false) })
			b.Run(fmt.Sprintf("mangos/%s/%d", tr, size), func(b *testing.B) { testkit.BenchMangosReqRep(b, benchURL(tr), size) })
		}
	}
}

func benchReqRep(b *testing.B, tr string, size int, useAio bool) {
	rep := open(b, sockets.Rep)
	req := open(b, sockets.Req)
	connect(b, rep, req, benchURL(tr))
	ctx := context.Background()
	waitEcho := testkit.Echo(rep)
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if useAio {
			s := aio.Send(req, payload, aio.Mode(sockets.Raw))
			r := aio.Recv[*sockets.Msg](req)
			m, err := r.Value(ctx)
			if err != nil {
				b.Fatal(err)
			}
			// The send's aio may resolve after the reply's: wait for it.
			if _, err := s.Value(ctx); err != nil {
				b.Fatal(err)
			}
			m.Free()
			continue
		}
		if err := req.Send(ctx, payload, sockets.Raw); err != nil {
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

const inFlight = 10_000

// BenchmarkInFlight puts 10,000 receives in flight at once on one pull
// socket, then sends 10,000 8-byte messages to it and waits for all; one
// op is the whole batch, ns/aio the cost per message. aio: 10,000
// aio.Recv[*sockets.Msg] collected with CollectAll. sockets and mangos: 10,000
// goroutines each blocked in a plain Recv, the way one has to hold that
// many receives in flight without aios.
func BenchmarkInFlight(b *testing.B) {
	for _, tr := range benchTransports {
		b.Run("aio/"+tr, func(b *testing.B) { benchInFlight(b, tr, true) })
		b.Run("sockets/"+tr, func(b *testing.B) { benchInFlight(b, tr, false) })
		b.Run("mangos/"+tr, func(b *testing.B) { benchMangosInFlight(b, tr) })
	}
}

func benchInFlight(b *testing.B, tr string, useAio bool) {
	pull := open(b, sockets.Pull)
	push := open(b, sockets.Push)
	connect(b, pull, push, benchURL(tr))
	ctx := context.Background()
	payload := make([]byte, 8)
	rs := make([]*aio.Aio[*sockets.Msg], inFlight)
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		if useAio {
			for i := range rs {
				rs[i] = aio.Recv[*sockets.Msg](pull)
			}
		} else {
			for range inFlight {
				wg.Go(func() {
					if m, err := pull.Recv(ctx); err == nil {
						m.Free()
					}
				})
			}
		}
		for range inFlight {
			if err := push.Send(ctx, payload, sockets.Raw); err != nil {
				b.Fatal(err)
			}
		}
		if useAio {
			ms, errs := aio.CollectAll(ctx, rs)
			if errs != nil {
				b.Fatal(errs)
			}
			for _, m := range ms {
				m.Free()
			}
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*inFlight), "ns/aio")
}

func benchMangosInFlight(b *testing.B, tr string) {
	pull, _ := mpull.NewSocket()
	defer pull.Close()
	url := testkit.MangosListen(b, pull, benchURL(tr))
	push, _ := mpush.NewSocket()
	defer push.Close()
	if err := push.Dial(url); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 8)
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		for range inFlight {
			wg.Go(func() {
				if m, err := pull.RecvMsg(); err == nil {
					m.Free()
				}
			})
		}
		for range inFlight {
			m := mangos.NewMessage(len(payload))
			m.Body = append(m.Body, payload...)
			if err := push.SendMsg(m); err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*inFlight), "ns/aio")
}

// BenchmarkAio measures the aio machinery alone, without waiting for a
// peer: an aio that completes on the caller's goroutine, one that has to
// start its goroutine (then stopped), a burst of sends that queue, the CV,
// and Ref.
func BenchmarkAio(b *testing.B) {
	b.Run("send-immediate", func(b *testing.B) {
		push, pull := pushPull(b)
		ctx := context.Background()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				m, err := pull.Recv(ctx)
				if err != nil {
					return
				}
				m.Free()
			}
		}()
		payload := make([]byte, 8)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := aio.Send(push, payload, aio.Mode(sockets.Raw)).Value(ctx); err != nil {
				b.Fatal(err)
			}
		}
		_ = pull.Close()
		<-done
	})
	// A burst of sends, more than the socket can queue at once: those
	// that have to wait queue in order behind each other. One op is one
	// send; the receiver drains on its own goroutine.
	b.Run("send-burst", func(b *testing.B) {
		push, pull := pushPull(b)
		ctx := context.Background()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				m, err := pull.Recv(ctx)
				if err != nil {
					return
				}
				m.Free()
			}
		}()
		payload := make([]byte, 8)
		const burst = 1000
		as := make([]*aio.SendAio, 0, burst)
		b.ReportAllocs()
		for b.Loop() {
			as = append(as, aio.Send(push, payload, aio.Mode(sockets.Raw)))
			if len(as) == burst {
				if _, errs := aio.CollectAll(ctx, as); errs != nil {
					b.Fatal(errs)
				}
				as = as[:0]
			}
		}
		if _, errs := aio.CollectAll(ctx, as); errs != nil {
			b.Fatal(errs)
		}
		_ = pull.Close()
		<-done
	})
	b.Run("recv-start-stop", func(b *testing.B) {
		pull := open(b, sockets.Pull)
		b.ReportAllocs()
		for b.Loop() {
			aio.Recv[int](pull).Stop()
		}
	})
	b.Run("cv-signal-wait", func(b *testing.B) {
		cv := aio.NewCV()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			cv.Signal()
			cv.Wait(ctx)
		}
	})
	b.Run("ref", func(b *testing.B) {
		pull := open(b, sockets.Pull)
		b.ReportAllocs()
		for b.Loop() {
			r := aio.Recv[int](pull, aio.Timeout(0))
			ref, err := r.Ref()
			if err != nil {
				b.Fatal(err)
			}
			<-ref.Done()
		}
	})
}
