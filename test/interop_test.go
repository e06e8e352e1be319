package test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// TestReqRep runs request/reply with nngcat on either side: our req
// against nngcat's rep (which answers every request with its --data), and
// nngcat's req against our rep (which answers with a reply computed from
// the request, printed by nngcat).
func TestReqRep(t *testing.T) {
	t.Run("go-req/nngcat-rep", func(t *testing.T) {
		forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
			req := open(t, sockets.Req)
			addr := attach(t, req, tr, nngListens)
			requests := [][]byte{[]byte("ping-1"), {0, 1, 2, 0xff, 0}}
			cat := startNngcat(t, nil, args("--rep", addr, "--raw", "--data", "pong", "--count", len(requests))...)
			ctx := ctxT(t)
			for i, r := range requests {
				send(t, ctx, req, r)
				wantBytes(t, fmt.Sprintf("reply %d", i), recvFrom(t, ctx, req, cat), []byte("pong"))
			}
			wantBytes(t, "requests nngcat received", cat.wait(t), bytes.Join(requests, nil))
		})
	})
	t.Run("nngcat-req/go-rep", func(t *testing.T) {
		forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
			rep := open(t, sockets.Rep)
			addr := attach(t, rep, tr, nngListens)
			// Without --count, nngcat's req sends once, prints the
			// reply and exits when its next receive finds no request
			// outstanding.
			cat := startNngcat(t, nil, args("--req", addr, "--raw", "--data", "question", "--recv-timeout", 10)...)
			ctx := ctxT(t)
			q := recvFrom(t, ctx, rep, cat)
			wantBytes(t, "request", q, []byte("question"))
			answer := fmt.Appendf(nil, "%d:%s", len(q), bytes.ToUpper(q))
			send(t, ctx, rep, answer)
			wantBytes(t, "reply nngcat printed", cat.wait(t), []byte("8:QUESTION"))
		})
	})
}

// TestPushPull runs the pipeline both ways: nngcat pushes its --data three
// times to our pull, and our push sends three different messages to
// nngcat's pull, which prints them.
func TestPushPull(t *testing.T) {
	t.Run("nngcat-push/go-pull", func(t *testing.T) {
		forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
			pull := open(t, sockets.Pull)
			addr := attach(t, pull, tr, nngListens)
			cat := startNngcat(t, nil, args("--push", addr, "--data", "work item", "--count", 3)...)
			ctx := ctxT(t)
			for i := range 3 {
				wantBytes(t, fmt.Sprintf("message %d", i), recvFrom(t, ctx, pull, cat), []byte("work item"))
			}
			cat.wait(t)
			_, err := pull.Recv(sockets.NonBlock(ctx))
			wantCode(t, err, nanoact.ErrTryAgain)
		})
	})
	t.Run("go-push/nngcat-pull", func(t *testing.T) {
		forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
			push := open(t, sockets.Push)
			addr := attach(t, push, tr, nngListens)
			cat := startNngcat(t, nil, args("--pull", addr, "--raw", "--count", 3, "--recv-timeout", 10)...)
			ctx := ctxT(t)
			msgs := [][]byte{[]byte("first"), {0xde, 0xad, 0xbe, 0xef}, []byte("third\x00with\x00nuls")}
			for _, m := range msgs {
				send(t, ctx, push, m)
			}
			wantBytes(t, "nngcat output", cat.wait(t), bytes.Join(msgs, nil))
		})
	})
}

// TestPubSub checks topic filtering on both sides. Our pub sends messages
// with and without nngcat's topic, and nngcat prints only the matching
// ones. Two nngcat pubs (one publishing on our topic, one not) feed two of
// our subs: one subscribed to everything, one to the topic only.
func TestPubSub(t *testing.T) {
	t.Run("go-pub/nngcat-sub", func(t *testing.T) {
		forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
			pub := open(t, sockets.Pub)
			addr := attach(t, pub, tr, nngListens)
			cat := startNngcat(t, nil, args("--sub", addr, "--subscribe", "topic", "--raw", "--count", 3, "--recv-timeout", 10)...)
			waitPipes(t, pub, 1)
			ctx := ctxT(t)
			for _, v := range []any{
				[]byte("other:1"),
				[]byte("topic:1"),
				"not topic",
				"topic:2", // a string goes with its NUL
				[]byte("topi"),
				[]byte("Topic:3"),
				[]byte("topic"), // the topic alone matches
			} {
				send(t, ctx, pub, v)
			}
			wantBytes(t, "nngcat output", cat.wait(t), []byte("topic:1topic:2\x00topic"))
		})
	})
	t.Run("nngcat-pub/go-sub", func(t *testing.T) {
		forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
			all, topic := open(t, sockets.Sub), open(t, sockets.Sub)
			if err := all.Subscribe(""); err != nil {
				t.Fatal(err)
			}
			if err := topic.Subscribe("topic"); err != nil {
				t.Fatal(err)
			}
			payloads := []string{"other:hello", "topic:hello"}
			var cats []*nngcat
			if nngListens {
				// Each nngcat pub listens; both subs dial both. A pub
				// sends once, after its 1 s --delay, by when our
				// dialers (retrying every 10-100 ms) have connected.
				start := time.Now()
				for _, p := range payloads {
					url := tr.free(t)
					for _, s := range []*sockets.Socket{all, topic} {
						if _, err := s.Dial(url, sockets.Async); err != nil {
							t.Fatal(err)
						}
					}
					cats = append(cats, startNngcat(t, nil, args("--pub", "--listen", url, "--data", p, "--delay", 1)...))
				}
				waitPipes(t, all, 2)
				waitPipes(t, topic, 2)
				if d := time.Since(start); d > 900*time.Millisecond {
					t.Fatalf("subs connected to nngcat's pubs only after %v: the pubs may have published already", d)
				}
				for _, c := range cats {
					c.wait(t)
				}
			} else {
				// Both subs listen; each nngcat pub dials both
				// (synchronously) and sends once; one after the other.
				la, err := all.Listen(tr.goListen(t))
				if err != nil {
					t.Fatal(err)
				}
				lt, err := topic.Listen(tr.goListen(t))
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range payloads {
					startNngcat(t, nil, args("--pub", "--dial", la.URL(), "--dial", lt.URL(), "--data", p)...).wait(t)
				}
			}
			ctx := ctxT(t)
			var got []string
			for range payloads {
				got = append(got, string(recvBytes(t, ctx, all)))
			}
			slices.Sort(got)
			if !slices.Equal(got, payloads) {
				t.Fatalf("sub to everything got %q, want %q", got, payloads)
			}
			wantBytes(t, "sub to topic", recvBytes(t, ctx, topic), []byte("topic:hello"))
			if m, err := topic.Recv(sockets.NonBlock(ctx)); err == nil {
				t.Fatalf("sub to topic got %q too", m.Body)
			} else {
				wantCode(t, err, nanoact.ErrTryAgain)
			}
		})
	})
}

// TestSurvey runs surveys both ways: our surveyor against nngcat's
// respondent (answering with its --data), and nngcat's surveyor against
// our respondent.
func TestSurvey(t *testing.T) {
	t.Run("go-surveyor/nngcat-respondent", func(t *testing.T) {
		forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
			sv := open(t, sockets.Surveyor)
			if err := sv.SetSurveyTime(opLimit); err != nil {
				t.Fatal(err)
			}
			addr := attach(t, sv, tr, nngListens)
			cat := startNngcat(t, nil, args("--respondent", addr, "--raw", "--data", "present", "--count", 1)...)
			// A survey goes to the respondents connected when it is sent.
			waitPipes(t, sv, 1)
			ctx := ctxT(t)
			send(t, ctx, sv, "roll call")
			wantBytes(t, "answer", recvFrom(t, ctx, sv, cat), []byte("present"))
			wantBytes(t, "survey nngcat received", cat.wait(t), []byte("roll call\x00"))
		})
	})
	t.Run("nngcat-surveyor/go-respondent", func(t *testing.T) {
		forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
			resp := open(t, sockets.Respondent)
			addr := attach(t, resp, tr, nngListens)
			// A survey that finds us not yet connected is lost, so
			// nngcat surveys up to 3 times, 2 s apart, and when it
			// listens it first gives our dialer 1 s to connect. We
			// answer the first survey we get.
			//
			// Not 1 s apart: nngcat's survey time is 1 s, and NNG
			// 1.5.2 deadlocks when a survey is sent just as the
			// previous one's timer fires (surv0_ctx_send holds the
			// socket lock while nni_timer_cancel waits for
			// surv0_ctx_timeout, which wants that lock), which
			// --interval 1 provokes under load.
			var delay []string
			if nngListens {
				delay = []string{"--delay", "1"}
			}
			cat := startNngcat(t, nil, args("--surveyor", addr, "--raw", "--data", "census", "--count", 3, "--interval", 2, delay)...)
			ctx := ctxT(t)
			wantBytes(t, "survey", recvFrom(t, ctx, resp, cat), []byte("census"))
			send(t, ctx, resp, []byte("one"))
			wantBytes(t, "answer nngcat printed", cat.waitOutput(t, 3), []byte("one"))
			cat.Stop()
			wantBytes(t, "nngcat output", cat.Out.Bytes(), []byte("one"))
		})
	})
}

// TestPair exchanges messages with nngcat's pair0 (our Pair) and pair1
// (our Poly: pair v1 in polyamorous mode, against nngcat's monogamous
// pair1): nngcat sends its --data once, and prints what we answer.
func TestPair(t *testing.T) {
	for _, c := range []struct {
		name  string
		proto sockets.Protocol
		flag  string
	}{
		{"pair0", sockets.Pair, "--pair0"},
		{"pair1-poly", sockets.Poly, "--pair1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachLink(t, func(t *testing.T, tr transport, nngListens bool) {
				s := open(t, c.proto)
				addr := attach(t, s, tr, nngListens)
				cat := startNngcat(t, nil, args(c.flag, addr, "--raw", "--data", "ping", "--recv-timeout", 10)...)
				ctx := ctxT(t)
				wantBytes(t, "from nngcat", recvFrom(t, ctx, s, cat), []byte("ping"))
				send(t, ctx, s, []byte("pong"))
				send(t, ctx, s, "done")
				want := []byte("pongdone\x00")
				wantBytes(t, "nngcat output", cat.waitOutput(t, len(want)), want)
				cat.Stop()
				wantBytes(t, "nngcat output", cat.Out.Bytes(), want)
			})
		})
	}
}

// le encodes float64s as nanonext's raw mode does: 8 little-endian bytes
// each.
func le(fs ...float64) []byte {
	var b []byte
	for _, f := range fs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

// fromLE decodes nngcat's output as little-endian float64s.
func fromLE(t *testing.T, b []byte) []float64 {
	t.Helper()
	if len(b)%8 != 0 {
		t.Fatalf("%d bytes is not a whole number of float64s: % x", len(b), b)
	}
	var fs []float64
	for i := 0; i < len(b); i += 8 {
		fs = append(fs, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
	}
	return fs
}

// TestRawEncodings checks raw mode's wire bytes against nngcat: what our
// push sends in raw mode, nngcat's pull prints byte for byte; what
// nngcat's push sends (--data, or --file - for bytes with NULs), our pull
// decodes with RecvAs in raw mode.
func TestRawEncodings(t *testing.T) {
	pi := []float64{1.5, -2, math.Pi}
	sends := []struct {
		name string
		v    any
		want []byte
		nums []float64 // if set, the output decoded as float64s
	}{
		{"string", "hello", []byte("hello\x00"), nil},
		{"float64s", pi, le(pi...), pi},
		{"float64", math.Pi, le(math.Pi), []float64{math.Pi}},
		{"bytes", []byte{0, 'a', 0, 0xff}, []byte{0, 'a', 0, 0xff}, nil},
	}
	recvs := []struct {
		name  string
		data  []string // nngcat's data arguments (--data x, or --file -)
		stdin []byte
		check func(t *testing.T, pull *sockets.Socket)
	}{
		{"string", []string{"--data", "hello"}, nil, wantRecv("hello")},
		{"string-nul", []string{"--file", "-"}, []byte("hello\x00"), wantRecv("hello")},
		{"float64", []string{"--file", "-"}, le(math.Pi), wantRecv([]float64{math.Pi})},
		{"float64s", []string{"--file", "-"}, le(pi...), wantRecv(pi)},
	}
	for _, tr := range transports {
		for _, c := range sends {
			t.Run(tr.name+"/go-sends/"+c.name, func(t *testing.T) {
				testkit.Nngcat(t)
				t.Parallel()
				push := open(t, sockets.Push)
				addr := attach(t, push, tr, false)
				cat := startNngcat(t, nil, args("--pull", addr, "--raw", "--count", 1, "--recv-timeout", 10)...)
				send(t, ctxT(t), push, c.v)
				out := cat.wait(t)
				wantBytes(t, "nngcat output", out, c.want)
				if c.nums != nil {
					if got := fromLE(t, out); !slices.Equal(got, c.nums) {
						t.Fatalf("nngcat output decodes to %v, want %v", got, c.nums)
					}
				}
			})
		}
		for _, c := range recvs {
			t.Run(tr.name+"/nngcat-sends/"+c.name, func(t *testing.T) {
				testkit.Nngcat(t)
				t.Parallel()
				pull := open(t, sockets.Pull)
				addr := attach(t, pull, tr, false)
				cat := startNngcat(t, c.stdin, args("--push", addr, c.data)...)
				c.check(t, pull)
				cat.wait(t)
			})
		}
	}
}

// wantRecv returns a check that receives one message as T in raw mode and
// compares it with want.
func wantRecv[T string | []float64](want T) func(t *testing.T, s *sockets.Socket) {
	return func(t *testing.T, s *sockets.Socket) {
		t.Helper()
		got, err := sockets.RecvAs[T](ctxT(t), s, sockets.Raw)
		if err != nil {
			var ce *nanoact.ConvertError
			if errors.As(err, &ce) {
				t.Fatalf("RecvAs[%T]: %v (bytes % x)", want, err, ce.Data)
			}
			t.Fatalf("RecvAs[%T]: %v", want, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("RecvAs[%T] = %#v, want %#v", want, got, want)
		}
	}
}
