package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// rLimit bounds every Rscript process (R and nanonext load in about a
// second, idle; 6 to over 10 s with the race-built suite running).
const rLimit = 30 * time.Second

// rscriptCheck finds an Rscript that loads nanonext, once per test binary.
var rscriptCheck = sync.OnceValues(func() (string, error) {
	name := os.Getenv("RSCRIPT")
	if name == "" {
		name = "Rscript"
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), rLimit)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "--vanilla", "-e", "library(nanonext)").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s cannot load nanonext: %v: %s", bin, err, strings.TrimSpace(string(out)))
	}
	return bin, nil
})

// rscript returns the Rscript to run nanonext with, or skips the test:
// R is optional, under CI=true too (.ci/run does not install it).
func rscript(t *testing.T) string {
	t.Helper()
	bin, err := rscriptCheck()
	if err != nil {
		t.Skipf("R nanonext interop needs Rscript and the nanonext package (optional, also under CI=true): %v", err)
	}
	return bin
}

// startR runs the R program code under Rscript with nanonext attached and
// url bound to URL.
func startR(t *testing.T, url, code string) *testkit.Proc {
	t.Helper()
	prog := "suppressPackageStartupMessages(library(nanonext))\nURL <- " + fmt.Sprintf("%q", url) + "\n" + code
	return testkit.Exec(t, rLimit, nil, rscript(t), "--vanilla", "-e", prog)
}

// ctxR bounds a test's exchanges with an R process by rLimit, the
// process's own bound, not opLimit: the first exchange waits for R and
// nanonext to load, which under load took more than opLimit.
func ctxR(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), rLimit)
	t.Cleanup(cancel)
	return ctx
}

// waitR waits for the R process to exit with status 0 and returns its
// standard output.
func waitR(t *testing.T, p *testkit.Proc) string {
	t.Helper()
	if code, err := p.Wait(t, rLimit+5*time.Second); code != 0 || err != nil {
		t.Fatalf("%s: exit %d %v\nstderr: %s\nstdout: %q", p, code, err, p.ErrOut.Bytes(), p.Out.Bytes())
	}
	return p.Out.String()
}

// rTransports are the transports of the R interop tests: nanonext's ipc
// and tcp, with our socket on one side.
var rTransports = []transport{transports[0], transports[1]}

// TestRNanonextReqRep runs req/rep between nanoact and R nanonext (an
// Rscript child process) over ipc and tcp, both ways, in raw mode with
// nanonext's vector encodings: doubles and integers as little-endian
// values, character vectors as NUL-terminated strings, raw vectors as the
// bytes. (Serial mode does not interoperate: nanonext's serial payload is
// R serialization, nanoact's is CBOR.)
func TestRNanonextReqRep(t *testing.T) {
	for _, tr := range rTransports {
		t.Run(tr.name+"/r-req/go-rep", func(t *testing.T) {
			rscript(t)
			rep := open(t, sockets.Rep)
			l, err := rep.Listen(tr.goListen(t))
			if err != nil {
				t.Fatalf("listen: %v", err)
			}
			r := startR(t, l.URL(), `
s <- socket("req")
stopifnot(dial(s, url = URL, autostart = NA) == 0L)
stopifnot(send(s, c(1.5, -2.25, 1e300), mode = "raw", block = 10000) == 0L)
cat("chr", recv(s, mode = "character", block = 10000), "\n")
stopifnot(send(s, c(1L, -7L, 2147483647L), mode = "raw", block = 10000) == 0L)
cat("raw", as.character(recv(s, mode = "raw", block = 10000)), "\n")
close(s)
`)
			ctx := ctxR(t)
			d, err := sockets.RecvAs[[]float64](ctx, rep, sockets.Raw)
			if err != nil || !slices.Equal(d, []float64{1.5, -2.25, 1e300}) {
				t.Fatalf("doubles from R: %v, %v; R %s", d, err, r.State())
			}
			send(t, ctx, rep, []string{"héllo", "", "wörld"})
			i, err := sockets.RecvAs[[]int32](ctx, rep, sockets.Raw)
			if err != nil || !slices.Equal(i, []int32{1, -7, 2147483647}) {
				t.Fatalf("integers from R: %v, %v; R %s", i, err, r.State())
			}
			send(t, ctx, rep, []byte{0, 1, 0xfe, 0xff})
			want := "chr héllo  wörld \nraw 00 01 fe ff \n"
			if got := waitR(t, r); got != want {
				t.Errorf("R printed %q, want %q", got, want)
			}
		})
		t.Run(tr.name+"/go-req/r-rep", func(t *testing.T) {
			rscript(t)
			url := tr.free(t)
			// R echoes a raw request reversed, then answers a double
			// request with the sum of its values, twice.
			r := startR(t, url, `
s <- socket("rep", listen = URL)
m <- recv(s, mode = "raw", block = 10000)
stopifnot(is.raw(m), send(s, rev(m), mode = "raw", block = 10000) == 0L)
x <- recv(s, mode = "double", block = 10000)
stopifnot(is.double(x), send(s, 2 * sum(x), mode = "raw", block = 10000) == 0L)
cat("done\n")
close(s)
`)
			req := open(t, sockets.Req)
			if _, err := req.Dial(url, sockets.Async); err != nil {
				t.Fatalf("dial %s: %v", url, err)
			}
			ctx := ctxR(t)
			send(t, ctx, req, []byte("abc\x00\xff"))
			b, err := sockets.RecvAs[[]byte](ctx, req, sockets.Raw)
			if err != nil {
				t.Fatalf("reply from R: %v; R %s", err, r.State())
			}
			wantBytes(t, "reversed by R", b, []byte("\xff\x00cba"))
			send(t, ctx, req, []float64{0.25, 1.5, -4})
			sum, err := sockets.RecvAs[float64](ctx, req, sockets.Raw)
			if err != nil || sum != -4.5 {
				t.Fatalf("sum from R: %v, %v; R %s", sum, err, r.State())
			}
			if got := waitR(t, r); got != "done\n" {
				t.Errorf("R printed %q", got)
			}
		})
	}
}
