package runner

import (
	"testing"
	"unsafe"
)

// TestQueuedTaskLayout checks that a task carries its time-out (deadline
// and timer), context watch and trace out of line (taskWatch, made only
// for a task that has one), and its aio in its own allocation
// (aio.Owned): a queued task's size is what WithMaxQueued bounds, and
// issue 17 asks for at most 200 bytes. typedTask[int], the aio included,
// fits the 256-byte size class of Go's allocator (two 160-byte objects
// before, the task and the aio).
func TestQueuedTaskLayout(t *testing.T) {
	if n := unsafe.Sizeof(typedTask[int]{}); n > 192 {
		t.Errorf("typedTask[int] is %d bytes, want at most 192", n)
	}
}
