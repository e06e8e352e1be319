package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// goImpl opens the socket pairs of one Go implementation (nanoact or
// plain mangos); goSystem measures them, so both are timed by the same
// code.
type goImpl interface {
	name() string
	// reqRep opens a rep socket listening at url and a req socket dialled
	// to it, with an echo loop on the rep side.
	reqRep(url string) (reqRep, error)
	// pushPull opens a pull socket listening at url and a push socket
	// dialled to it.
	pushPull(url string) (pushPull, error)
}

// reqRep is an open req/rep pair with its echo loop running.
type reqRep interface {
	// roundTrip sends payload as a request and returns the length of the
	// reply.
	roundTrip(payload []byte) (int, error)
	// close closes both sockets and waits for the echo loop to exit. It is
	// safe to call more than once and from several goroutines; every call
	// returns after the first has finished.
	close()
}

// pushPull is an open push/pull pair.
type pushPull interface {
	send(payload []byte) error
	// recv receives one message and returns its length.
	recv() (int, error)
	// close closes both sockets, as reqRep.close.
	close()
}

// goSystem measures a goImpl in this process.
type goSystem struct {
	impl    goImpl
	urls    *urlMaker
	timeout time.Duration
}

func (g *goSystem) name() string { return g.impl.name() }

// watch closes a pair when ctx ends or the time limit passes, so that a
// stuck measurement fails instead of hanging. The returned function stops
// the watch, closes the pair and turns err into the time-out or
// cancellation error when the watch fired.
func (g *goSystem) watch(ctx context.Context, closer func()) func(err error) error {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	stop := context.AfterFunc(ctx, closer)
	return func(err error) error {
		fired := !stop()
		cancel()
		closer()
		if fired {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("no result within %v (--timeout)", g.timeout)
			}
			return ctx.Err()
		}
		return err
	}
}

// latency times c.count round trips after c.warmup untimed ones, each
// round trip on its own (one clock read per round trip), and counts the
// allocations of the timed ones, process-wide.
func (g *goSystem) latency(ctx context.Context, c benchCase) (m measurement, err error) {
	rr, err := g.impl.reqRep(g.urls.url(c.transport, g.impl.name()))
	if err != nil {
		return m, err
	}
	end := g.watch(ctx, rr.close)
	defer func() { err = end(err) }()

	payload := pageOffset(c.size)
	for range c.warmup {
		if _, err := rr.roundTrip(payload); err != nil {
			return m, err
		}
	}
	samples := make([]time.Duration, c.count)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	prev := start
	for i := range samples {
		n, err := rr.roundTrip(payload)
		if err != nil {
			return m, err
		}
		if n != c.size {
			return m, fmt.Errorf("reply of %d bytes, want %d", n, c.size)
		}
		now := time.Now()
		samples[i] = now.Sub(prev)
		prev = now
	}
	runtime.ReadMemStats(&after)
	m.samples = samples
	m.mean = prev.Sub(start) / time.Duration(c.count)
	m.allocs, m.bytes = perOp(&before, &after, c.count)
	return m, nil
}

// throughput sends c.warmup+c.count messages flat out from one goroutine
// and receives them on this one; the clock runs from the receipt of the
// last warm-up message (at least one, as NNG's local_thr starts at the
// first) to the receipt of the last message. Allocations are counted over
// all messages, process-wide.
func (g *goSystem) throughput(ctx context.Context, c benchCase) (m measurement, err error) {
	pp, err := g.impl.pushPull(g.urls.url(c.transport, g.impl.name()))
	if err != nil {
		return m, err
	}
	end := g.watch(ctx, pp.close)
	defer func() { err = end(err) }()

	payload := pageOffset(c.size)
	warm := max(1, c.warmup)
	total := warm + c.count
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sent := make(chan error, 1)
	go func() {
		for range total {
			if err := pp.send(payload); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	var start time.Time
	recvErr := func() error {
		for i := range total {
			n, err := pp.recv()
			if err != nil {
				return err
			}
			if n != c.size {
				return fmt.Errorf("message of %d bytes, want %d", n, c.size)
			}
			if i == warm-1 {
				start = time.Now()
			}
		}
		return nil
	}()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if recvErr != nil {
		pp.close() // unblocks the sender
	}
	if err := cmpErr(recvErr, <-sent); err != nil {
		return m, err
	}
	m.elapsed, m.msgs = elapsed, c.count
	m.allocs, m.bytes = perOp(&before, &after, total)
	return m, nil
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func perOp(before, after *runtime.MemStats, n int) (allocs, bytes *float64) {
	a := float64(after.Mallocs-before.Mallocs) / float64(n)
	b := float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
	return &a, &b
}

// urlMaker hands out a fresh address per measurement: a new inproc name,
// a new ipc path in the run's temporary directory, tcp on port 0 (the
// listener reports the port it bound).
type urlMaker struct {
	dir string
	n   atomic.Int64
}

func (u *urlMaker) url(transport, tag string) string {
	n := u.n.Add(1)
	switch transport {
	case "inproc":
		return fmt.Sprintf("inproc://nanoact-bench-%s-%d", tag, n)
	case "ipc":
		return "ipc://" + filepath.Join(u.dir, fmt.Sprintf("%s-%d.ipc", tag, n))
	}
	return "tcp://127.0.0.1:0"
}

// aggregate folds the runs of one case on one system into a result.
// Latency pools every run's round trips for the median and p99 and
// averages the runs' means; throughput takes the median run.
func aggregate(sys string, c benchCase, runs []measurement, err error) result {
	r := result{System: sys, Case: c.kind, Transport: c.transport, Size: c.size, Count: c.count, Runs: len(runs)}
	if err != nil {
		r.Err = err.Error()
	}
	if len(runs) == 0 {
		return r
	}
	var allocs, bytes float64
	haveAllocs := true
	for _, m := range runs {
		if m.allocs == nil {
			haveAllocs = false
		} else {
			allocs += *m.allocs
			bytes += *m.bytes
		}
		if m.version != "" {
			r.Version = m.version
		}
	}
	if haveAllocs {
		a, b := allocs/float64(len(runs)), bytes/float64(len(runs))
		r.AllocsPerOp, r.BytesPerOp = &a, &b
	}
	switch c.kind {
	case kindLat:
		var pooled []time.Duration
		var sum time.Duration
		for _, m := range runs {
			pooled = append(pooled, m.samples...)
			sum += m.mean
			r.PerRun = append(r.PerRun, us(m.mean))
		}
		r.MeanUS = us(sum / time.Duration(len(runs)))
		if len(pooled) > 0 {
			slices.Sort(pooled)
			r.MedianUS = us(quantile(pooled, 0.5))
			r.P99US = us(quantile(pooled, 0.99))
		}
	case kindThr:
		rates := make([]float64, 0, len(runs))
		for _, m := range runs {
			rate := float64(m.msgs) / m.elapsed.Seconds()
			rates = append(rates, rate)
			r.PerRun = append(r.PerRun, rate)
		}
		slices.Sort(rates)
		r.MsgsPerS = rates[len(rates)/2]
		if len(rates)%2 == 0 {
			r.MsgsPerS = (rates[len(rates)/2-1] + rates[len(rates)/2]) / 2
		}
		r.MBPerS = r.MsgsPerS * float64(c.size) / 1e6
	}
	return r
}

// quantile returns the q-quantile of sorted samples (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// mangosModule is plain mangos' module path, for its version.
const mangosModule = "go.nanomsg.org/mangos/v3"

// moduleVersion returns the version of module path built into this
// binary, or of the main module (nanoact) for "".
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if path == "" {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		return v
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}

// progress is the progress bar on stderr, or nothing.
type progress struct{ bar *progressbar.ProgressBar }

func newProgress(w io.Writer, on bool, steps int) *progress {
	if !on {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)}
}

func (p *progress) describe(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

func (p *progress) add() {
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Exit()
		p.bar = nil
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
