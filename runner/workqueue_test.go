package runner

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact/sockets"
)

// seqOutlet is an outlet that records the order its tasks resolve in, by
// their ids.
func seqOutlet(mu *sync.Mutex, got *[]int) *outlet {
	return &outlet{
		decode: func(*task, sockets.Codec, []byte) error { return nil },
		resolve: func(t *task, _ error) {
			mu.Lock()
			*got = append(*got, int(t.id))
			mu.Unlock()
		},
	}
}

// A workQueue runs what it is given in order, task resolutions and
// reports alike, across its bursts; close runs what is left and stops
// it; a post after close runs on the caller's goroutine.
func TestWorkQueueOrderAndClose(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []int
	var q workQueue
	out := seqOutlet(&mu, &got)
	item := func(n int) job {
		if n%3 == 2 {
			return job{fn: func() {
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			}}
		}
		return job{t: &task{out: out, id: uint64(n)}}
	}
	const n = 5000
	for i := 0; i < n; i += 2 {
		q.post(item(i), item(i+1))
	}
	q.close()
	mu.Lock()
	if len(got) != n {
		t.Fatalf("%d run of %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("ran %d at %d", v, i)
		}
	}
	mu.Unlock()
	q.post(item(n))     // a report (n%3 == 2)
	q.post(item(n + 1)) // a resolution
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n+2 || got[n] != n || got[n+1] != n+1 {
		t.Fatal("a post after close was not run at once")
	}
}

// A report that panics is recovered and logged at Error; the jobs after
// it still run.
func TestWorkQueueReportPanic(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.ErrorLevel)
	q := workQueue{log: zap.New(core)}
	ran := make(chan struct{})
	q.post(job{fn: func() { panic("a report that panics") }}, job{fn: func() { close(ran) }})
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the job after a panicking report did not run")
	}
	q.close()
	if n := logs.FilterMessage("OnJoin report panicked").Len(); n != 1 {
		t.Fatalf("%d panics logged, want 1", n)
	}
}

// A post while close waits for the jobs queued before it is queued
// behind them, not run at once beside the one running: jobs run one at a
// time, in order, until close returns.
func TestWorkQueuePostWhileClosing(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []int
	record := func(n int) {
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}
	var q workQueue
	entered, release := make(chan struct{}), make(chan struct{})
	q.post(job{fn: func() {
		close(entered)
		<-release
		record(1)
	}})
	<-entered
	closed := make(chan struct{})
	go func() {
		q.close()
		close(closed)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		stopped := q.stopped
		q.mu.Unlock()
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("close did not start")
		}
		time.Sleep(time.Millisecond)
	}
	q.post(job{fn: func() { record(2) }})
	close(release)
	<-closed
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("ran %v, want [1 2]", got)
	}
}

// A task resolution through a busy workQueue allocates nothing: the job
// is held by value and the two buffers alternate.
func TestWorkQueueNoAllocs(t *testing.T) {
	done := make(chan struct{}, 1)
	out := &outlet{
		decode:  func(*task, sockets.Codec, []byte) error { return nil },
		resolve: func(*task, error) { done <- struct{}{} },
	}
	var q workQueue
	defer q.close()
	tk := &task{out: out}
	for range 10 { // the goroutine started, both buffers grown
		q.post(job{t: tk})
		<-done
	}
	if n := testing.AllocsPerRun(1000, func() {
		q.post(job{t: tk})
		<-done
	}); n != 0 {
		t.Errorf("a resolution through the queue takes %v allocations, want 0", n)
	}
}
