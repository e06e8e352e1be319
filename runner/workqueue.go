package runner

import (
	"runtime/debug"
	"sync"

	"go.uber.org/zap"
)

// job is one item of a workQueue: a task's resolution (t and its
// outcome err: t.resolveOut), or a report (fn: an OnJoin report, run by
// runReport). A resolution is two words and an interface, held by value:
// the hot path allocates nothing per task for it.
type job struct {
	t   *task
	err error
	fn  func() // a report, when t is nil
}

// run runs j; log takes a report's panic.
func (j *job) run(log *zap.Logger) {
	if j.fn != nil {
		runReport(log, j.fn)
		return
	}
	j.t.resolveOut(j.err)
}

// workQueue runs jobs one at a time, in the order they are posted, on a
// goroutine of its own, off the goroutine that posts them (the
// dispatcher's reader, its actor, a timer): a slow job delays only the
// jobs after it. The dispatcher has two: the resolver (d.res), which
// resolves the aios of the tasks its reader ends, and the reports queue
// (d.every.reports), which runs OnJoin reports; they are apart so that a
// report may submit and wait for a task, whose aio the resolver resolves.
//
// The goroutine starts with the first post and parks between bursts
// (starting one per burst would cost an allocation per task on the hot
// path); close stops it once the jobs queued have run. The queued jobs
// sit in one of two buffers that alternate (drain), so that a busy queue
// allocates nothing. After close, a post runs its jobs on the posting
// goroutine.
//
// The zero value is ready to use (log nil: a report's panic is not
// logged); it must not be copied after first use.
type workQueue struct {
	log     *zap.Logger // for a report's panic; set before the first post
	mu      sync.Mutex
	q       []job // to run, in order
	spare   []job // the drained buffer, for reuse
	running bool  // the goroutine is draining q, or has been woken to
	started bool
	stopped bool
	wake    chan struct{} // cap 1
	stopc   chan struct{}
	wg      sync.WaitGroup
}

// post queues js and wakes the goroutine if it is parked (starting it on
// the first post). It never blocks on the jobs: it takes the queue's
// lock and appends. After close it runs js on the caller's goroutine,
// unless the goroutine is still draining: then they are queued, so that
// jobs never run two at a time while close waits.
func (q *workQueue) post(js ...job) {
	q.mu.Lock()
	if q.stopped && !q.running {
		q.mu.Unlock()
		for i := range js {
			js[i].run(q.log)
		}
		return
	}
	q.q = append(q.q, js...)
	if q.running {
		q.mu.Unlock()
		return
	}
	q.running = true
	if !q.started {
		q.started = true
		q.wake, q.stopc = make(chan struct{}, 1), make(chan struct{})
		q.wg.Add(1)
		go q.loop()
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// loop is the queue's goroutine.
func (q *workQueue) loop() {
	defer q.wg.Done()
	for {
		select {
		case <-q.wake:
			q.drain()
		case <-q.stopc:
			q.drain()
			return
		}
	}
}

// drain runs what is queued until nothing is; the two buffers alternate,
// so a busy queue allocates nothing here.
func (q *workQueue) drain() {
	for {
		q.mu.Lock()
		b := q.q
		if len(b) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.q, q.spare = q.spare[:0], nil
		q.mu.Unlock()
		for i := range b {
			b[i].run(q.log)
			b[i] = job{}
		}
		q.mu.Lock()
		q.spare = b[:0]
		q.mu.Unlock()
	}
}

// close runs what is queued, stops the goroutine and waits for it; later
// posts run on their callers' goroutines. It must not be called from a
// job; a second close only waits.
func (q *workQueue) close() {
	q.mu.Lock()
	first := !q.stopped
	q.stopped = true
	started := q.started
	q.mu.Unlock()
	if first && started {
		close(q.stopc)
	}
	q.wg.Wait()
}

// runReport runs a user's report, recovering a panic (logged at Error
// with its stack, if log is not nil).
func runReport(log *zap.Logger, fn func()) {
	defer func() {
		if p := recover(); p != nil && log != nil {
			log.Error("OnJoin report panicked", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
		}
	}()
	fn()
}
