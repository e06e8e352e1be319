package ncurl_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/nanoact/nanoact/ncurl"
)

// BenchmarkGet measures one small GET over loopback: a new connection,
// one request, one 5-byte response.
func BenchmarkGet(b *testing.B) {
	s := newServer(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ncurl.Get(ctx, s.URL+"/text"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransact measures one small transaction on a session's
// kept-alive connection.
func BenchmarkTransact(b *testing.B) {
	s := newServer(b)
	ctx := b.Context()
	sess, err := ncurl.NewSession(ctx, s.URL+"/text")
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sess.Transact(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDoAsync measures DoAsync and Value for one small GET.
func BenchmarkDoAsync(b *testing.B) {
	s := newServer(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ncurl.DoAsync(s.URL + "/text").Value(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHTTPClient is the baseline for BenchmarkGet and
// BenchmarkTransact: net/http's client doing the same GET, with a new
// connection each time (keepalive=false) or one reused (keepalive=true).
func BenchmarkHTTPClient(b *testing.B) {
	for _, keep := range []bool{false, true} {
		b.Run(fmt.Sprintf("keepalive=%v", keep), func(b *testing.B) {
			s := newServer(b)
			tr := &http.Transport{DisableKeepAlives: !keep}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/text", nil)
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
