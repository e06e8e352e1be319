package aio

import (
	"testing"
	"unsafe"
)

// TestAioLayout checks that an aio carries no receive-only state unless it
// is a receive's (recvAio), that its flags share one word and its
// callbacks after the first live out of line: a task runner keeps one aio
// per queued task, and issue 17 bounds a queued task's memory. Aio[int]
// fits the 112-byte size class of Go's allocator (144 before; before
// that, the receive's wait and decoding made every aio 256 bytes).
func TestAioLayout(t *testing.T) {
	if n := unsafe.Sizeof(Aio[int]{}); n > 80 {
		t.Errorf("Aio[int] is %d bytes, want at most 80", n)
	}
	if n := unsafe.Sizeof(SendAio{}); n > 80 {
		t.Errorf("SendAio is %d bytes, want at most 80", n)
	}
	if n, base := unsafe.Sizeof(recvAio[int]{}), unsafe.Sizeof(Aio[int]{}); n <= base {
		t.Errorf("recvAio[int] (%d bytes) does not hold the receive state beside its Aio (%d)", n, base)
	}
}

type nopOwner struct{}

func (*nopOwner) Stopped(err error) error { return err }

// TestNewOwnedOneAllocation checks that NewOwned keeps its owner in the
// aio's own allocation (it took a second, 24-byte one before).
func TestNewOwnedOneAllocation(t *testing.T) {
	o := &nopOwner{}
	var keep *Aio[int]
	n := testing.AllocsPerRun(100, func() {
		keep, _ = NewOwned[int](o)
	})
	if n != 1 {
		t.Errorf("NewOwned: %v allocations, want 1", n)
	}
	keep.Stop()
}
