package aio_test

import (
	"testing"
	"time"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// An aio signals its CV on every kind of completion, once: a CV shared by
// many aios ends at exactly their number.
func TestCVCountedByManyAios(t *testing.T) {
	ctx := ctxT(t)
	push, pull := pushPull(t)
	lone := open(t, sockets.Push)     // no peer: sends wait
	lonePull := open(t, sockets.Pull) // no peer: receives wait
	cv := aio.NewCV()
	var all []aio.Resolvable
	for range 40 { // succeed
		all = append(all, aio.Recv[int](pull, aio.Signal(cv)))
	}
	for range 20 { // time out
		all = append(all, aio.Recv[int](lonePull, aio.Signal(cv), aio.Timeout(time.Millisecond)))
	}
	for range 10 { // time out at once
		all = append(all, aio.Send(lone, 1, aio.Signal(cv), aio.Timeout(0)))
	}
	var stopped []aio.Resolvable
	for range 30 { // cancelled
		s := aio.Send(lone, 1, aio.Signal(cv))
		stopped = append(stopped, s)
		all = append(all, s)
	}
	for i := range 40 {
		all = append(all, aio.Send(push, i, aio.Signal(cv))) // succeed
	}
	aio.Stop(stopped...)
	if err := aio.WaitAll(ctx, all...); err != nil {
		t.Fatal(err)
	}
	if cv.Value() != len(all) {
		t.Fatalf("cv = %d, want %d", cv.Value(), len(all))
	}
	for range all {
		if !cv.Wait(ctx) {
			t.Fatal("Wait false")
		}
	}
	if cv.Until(0) {
		t.Fatal("a count too many")
	}
}
