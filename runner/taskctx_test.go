package runner

import (
	"context"
	"errors"
	"testing"
	"time"
)

type taskCtxKey struct{}

// A task's context: cancelled once (Err, Done, Cause as the standard
// library's), its values the daemon's and its attempt's, and contexts
// derived from it end with it, before or after they are made; AfterFunc's
// stop works until it runs.
func TestTaskCtxCancel(t *testing.T) {
	t.Parallel()
	base := context.WithoutCancel(context.WithValue(context.Background(), taskCtxKey{}, "v"))
	tc := newTaskCtx(base, &frame{task: 7, attempt: 2, seed: 99})
	if tc.Err() != nil {
		t.Fatal("ended at birth")
	}
	if _, ok := tc.Deadline(); ok {
		t.Fatal("a deadline without a time-out")
	}
	if tc.Value(taskCtxKey{}) != "v" {
		t.Fatal("the daemon's values are lost")
	}
	if a, ok := AttemptFrom(tc); !ok || a.Task != 7 || a.Number != 2 {
		t.Fatalf("attempt %+v %v", a, ok)
	}
	if s, ok := SeedFrom(tc); !ok || s == 0 {
		t.Fatalf("seed %v %v", s, ok)
	}
	child, cancelChild := context.WithCancel(tc)
	defer cancelChild()
	ran := make(chan struct{})
	context.AfterFunc(tc, func() { close(ran) })
	stopped := context.AfterFunc(tc, func() { t.Error("a stopped AfterFunc ran") })
	if !stopped() {
		t.Fatal("stop before the end did not stop")
	}
	done := tc.Done()
	select {
	case <-done:
		t.Fatal("done before the cancel")
	default:
	}
	tc.cancel()
	tc.cancel() // once
	<-done
	<-child.Done()
	<-ran
	if !errors.Is(tc.Err(), context.Canceled) || !errors.Is(context.Cause(tc), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
		t.Fatalf("errors %v %v %v", tc.Err(), context.Cause(tc), child.Err())
	}
	late, cancelLate := context.WithCancel(tc) // derived after the end
	defer cancelLate()
	<-late.Done()
	ranLate := make(chan struct{})
	if context.AfterFunc(tc, func() { close(ranLate) })() {
		t.Fatal("stop after the end stopped")
	}
	<-ranLate
}

// A task's time-out ends its context with DeadlineExceeded, which its
// Deadline announced; a context ended before Done is asked for still
// gives a closed channel; no attempt sent, none found.
func TestTaskCtxTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	tc := newTaskCtx(context.Background(), &frame{timeout: uint64(20 * time.Millisecond)})
	if d, ok := tc.Deadline(); !ok || d.Before(start) || d.After(time.Now().Add(20*time.Millisecond)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	if _, ok := AttemptFrom(tc); ok {
		t.Fatal("an attempt that was not sent")
	}
	<-tc.Done()
	if !errors.Is(tc.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(tc), context.DeadlineExceeded) {
		t.Fatalf("after the time-out: %v %v", tc.Err(), context.Cause(tc))
	}
	tc2 := newTaskCtx(context.Background(), &frame{timeout: uint64(time.Hour)})
	tc2.cancel()
	<-tc2.Done()
	if !errors.Is(tc2.Err(), context.Canceled) {
		t.Fatalf("cancel before the time-out: %v", tc2.Err())
	}
}
