package test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// deviceTransports are the transports the device tests run over.
func deviceTransports() []transport {
	return slices.DeleteFunc(slices.Clone(transports), func(tr transport) bool { return tr.name != "tcp" && tr.name != "ipc" })
}

// listenOn makes s listen on tr and returns the URL to dial.
func listenOn(t *testing.T, s *sockets.Socket, tr transport) string {
	t.Helper()
	l, err := s.Listen(tr.goListen(t))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return l.URL()
}

// startDevice runs aio.Device(s1, s2) for the test and checks at cleanup
// that it was still running, then stops it.
func startDevice(t *testing.T, s1, s2 *sockets.Socket) {
	t.Helper()
	dev := aio.Device(s1, s2)
	t.Cleanup(func() {
		if dev.Resolved() {
			_, err := dev.Result()
			t.Errorf("device ended early: %v", err)
		}
		dev.Stop()
	})
}

// TestDeviceBrokerNngcat runs a request broker (raw rep facing clients,
// raw req facing workers) with nngcat on both ends: nngcat req clients,
// each with its own request, and an nngcat rep worker (which answers every
// request with its --data) or one of ours (which answers each request
// with a reply computed from it, so that each client's reply shows that
// the backtrace brought it back to the right client).
func TestDeviceBrokerNngcat(t *testing.T) {
	const clients = 3
	for _, tr := range deviceTransports() {
		for _, workerKind := range []string{"nngcat-rep", "go-rep"} {
			t.Run(tr.name+"/"+workerKind, func(t *testing.T) {
				testkit.Nngcat(t)
				t.Parallel()
				front := open(t, sockets.Rep, sockets.WithRaw())
				back := open(t, sockets.Req, sockets.WithRaw())
				startDevice(t, front, back)
				frontURL, backURL := listenOn(t, front, tr), listenOn(t, back, tr)

				var worker *nngcat
				want := func(q string) string { return "pong" }
				if workerKind == "nngcat-rep" {
					worker = startNngcat(t, nil, args("--rep", "--dial", backURL, "--raw", "--data", "pong", "--count", clients)...)
				} else {
					rep := open(t, sockets.Rep)
					if _, err := rep.Dial(backURL, sockets.Sync); err != nil {
						t.Fatal(err)
					}
					want = func(q string) string { return "re:" + q }
					ctx := ctxT(t)
					done := make(chan struct{})
					t.Cleanup(func() { <-done })
					go func() {
						defer close(done)
						for range clients {
							q, err := rep.Recv(ctx)
							if err != nil {
								t.Error(err)
								return
							}
							err = rep.Send(ctx, append([]byte("re:"), q.Body...), sockets.Raw)
							q.Free()
							if err != nil {
								t.Error(err)
								return
							}
						}
					}()
				}
				waitPipes(t, back, 1)

				cats := make([]*nngcat, clients)
				for i := range cats {
					cats[i] = startNngcat(t, nil, args("--req", "--dial", frontURL, "--raw", "--data", fmt.Sprint("q", i), "--recv-timeout", 10)...)
				}
				var asked [][]byte
				for i, c := range cats {
					q := fmt.Sprint("q", i)
					wantBytes(t, "reply to "+q, c.wait(t), []byte(want(q)))
					asked = append(asked, []byte(q))
				}
				if worker != nil {
					got := worker.wait(t)
					for _, q := range asked {
						if !bytes.Contains(got, q) {
							t.Errorf("worker got %q, missing %q", got, q)
						}
					}
				}
			})
		}
	}
}

// TestDeviceForwarderNngcat runs a pub/sub forwarder (raw sub facing the
// publisher, raw pub facing the subscribers) between an nngcat pub and
// two nngcat subs.
func TestDeviceForwarderNngcat(t *testing.T) {
	for _, tr := range deviceTransports() {
		t.Run(tr.name, func(t *testing.T) {
			testkit.Nngcat(t)
			t.Parallel()
			in := open(t, sockets.Sub, sockets.WithRaw())
			out := open(t, sockets.Pub, sockets.WithRaw())
			startDevice(t, in, out)
			inURL, outURL := listenOn(t, in, tr), listenOn(t, out, tr)
			var subs []*nngcat
			for range 2 {
				subs = append(subs, startNngcat(t, nil, args("--sub", "--dial", outURL, "--subscribe", "topic", "--raw", "--count", 2, "--recv-timeout", 10)...))
			}
			waitPipes(t, out, 2)
			startNngcat(t, nil, args("--pub", "--dial", inURL, "--data", "other:x")...).wait(t)
			startNngcat(t, nil, args("--pub", "--dial", inURL, "--data", "topic:1")...).wait(t)
			startNngcat(t, nil, args("--pub", "--dial", inURL, "--data", "topic:2")...).wait(t)
			for i, s := range subs {
				wantBytes(t, fmt.Sprint("sub ", i), s.wait(t), []byte("topic:1topic:2"))
			}
		})
	}
}

// TestDeviceSurveyNngcat runs a survey broker (raw respondent facing the
// surveyor, raw surveyor facing the respondents) between an nngcat
// surveyor and two nngcat respondents: both answers come back through the
// device within the survey's time.
func TestDeviceSurveyNngcat(t *testing.T) {
	for _, tr := range deviceTransports() {
		t.Run(tr.name, func(t *testing.T) {
			testkit.Nngcat(t)
			t.Parallel()
			front := open(t, sockets.Respondent, sockets.WithRaw())
			back := open(t, sockets.Surveyor, sockets.WithRaw())
			startDevice(t, front, back)
			frontURL, backURL := listenOn(t, front, tr), listenOn(t, back, tr)
			var resps []*nngcat
			for i := range 2 {
				resps = append(resps, startNngcat(t, nil, args("--respondent", "--dial", backURL, "--raw", "--data", fmt.Sprint("r", i), "--count", 1)...))
			}
			waitPipes(t, back, 2)
			sv := startNngcat(t, nil, args("--surveyor", "--dial", frontURL, "--raw", "--data", "census")...)
			got := sv.waitOutput(t, 4)
			for _, r := range resps {
				wantBytes(t, "survey a respondent got", r.wait(t), []byte("census"))
			}
			if string(got) != "r0r1" && string(got) != "r1r0" {
				t.Fatalf("surveyor printed %q, want both answers", got)
			}
			sv.Stop()
		})
	}
}
