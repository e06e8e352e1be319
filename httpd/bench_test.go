package httpd_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nanoact/nanoact/httpd"
)

// bareServer serves h with a plain net/http server on loopback, the
// baseline the benchmarks measure httpd against.
func bareServer(b *testing.B, h http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String()
}

// compare runs ours and theirs (each timing one round trip of size bytes
// each way) alternately in b's loop, alternating which goes first so that
// neither gains from the other's warm caches, and reports both mean round
// trips and the ratio ours / theirs.
func compare(b *testing.B, size int, name string, ours, theirs func() time.Duration) {
	var tOurs, tTheirs time.Duration
	b.ReportAllocs()
	b.SetBytes(int64(2 * size))
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			tOurs += ours()
			tTheirs += theirs()
		} else {
			tTheirs += theirs()
			tOurs += ours()
		}
		n++
	}
	b.ReportMetric(float64(tOurs.Nanoseconds())/float64(n), "ns/rtt-httpd")
	b.ReportMetric(float64(tTheirs.Nanoseconds())/float64(n), "ns/rtt-"+name)
	b.ReportMetric(float64(tOurs)/float64(tTheirs), "ratio")
}

// BenchmarkRoundTrip measures a POST echoed by an httpd Handle handler and
// by a bare net/http handler doing the same work, alternately in the same
// run over one kept-alive connection each, and reports both round trips
// and their ratio (httpd / net/http).
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{8, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			s := serve(b, []httpd.Handler{httpd.Handle("/echo", func(_ context.Context, req *httpd.Request) (*httpd.Response, error) {
				return &httpd.Response{Body: req.Body}, nil
			}, httpd.Method("POST"))})
			bare := bareServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				_, _ = w.Write(body)
			}))
			tr := &http.Transport{}
			b.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr}
			payload := bytes.Repeat([]byte{'x'}, size)
			buf := make([]byte, size)
			rtt := func(url string) time.Duration {
				t0 := time.Now()
				resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(payload))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(resp.Body, buf); err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
				return time.Since(t0)
			}
			ours, theirs := s.URL()+"/echo", bare+"/echo"
			rtt(ours)
			rtt(theirs)
			compare(b, size, "nethttp", func() time.Duration { return rtt(ours) }, func() time.Duration { return rtt(theirs) })
		})
	}
}

// BenchmarkWSEcho measures a websocket message echoed by an httpd WS
// handler and by a bare gorilla/websocket echo loop, alternately in the
// same run, and reports both round trips and their ratio (httpd / bare).
func BenchmarkWSEcho(b *testing.B) {
	for _, size := range []int{8, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			s := serve(b, []httpd.Handler{httpd.WS("/ws", httpd.WSEvents{Message: func(c *httpd.WSConn, data []byte) {
				_ = c.Send(data)
			}})})
			var up websocket.Upgrader
			bare := bareServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer func() { _ = c.Close() }()
				for {
					kind, data, err := c.ReadMessage()
					if err != nil {
						return
					}
					if err := c.WriteMessage(kind, data); err != nil {
						return
					}
				}
			}))
			dial := func(url string) *websocket.Conn {
				c, resp, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
				return c
			}
			ours := dial(wsURL(s, "/ws"))
			theirs := dial("ws" + bare[4:] + "/ws")
			// Closed before the servers shut down (cleanups run last first).
			b.Cleanup(func() { _ = ours.Close(); _ = theirs.Close() })
			payload := bytes.Repeat([]byte{'x'}, size)
			rtt := func(c *websocket.Conn) time.Duration {
				t0 := time.Now()
				if err := c.WriteMessage(websocket.BinaryMessage, payload); err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			rtt(ours)
			rtt(theirs)
			compare(b, size, "bare", func() time.Duration { return rtt(ours) }, func() time.Duration { return rtt(theirs) })
		})
	}
}

// BenchmarkServeHTTP measures what routing and a Handle handler add to a
// request, without the network: the Server's ServeHTTP against the bare
// handler, on the same recorded request.
func BenchmarkServeHTTP(b *testing.B) {
	s, err := httpd.New("http://127.0.0.1:0", []httpd.Handler{
		httpd.Handle("/api", func(context.Context, *httpd.Request) (*httpd.Response, error) {
			return &httpd.Response{Body: []byte("ok")}, nil
		}, httpd.Prefix()),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"httpd", s}, {"bare", bare}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/api/users/7", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
