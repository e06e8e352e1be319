package runner

import (
	"testing"
	"unsafe"
)

// TestQueuedTaskLayout checks that a task carries its time-out timer and
// context watch out of line (taskWatch, made only for a task that has
// one): a queued task's size is what WithMaxQueued bounds, and issue 17
// asks for at most 200 bytes. typedTask[int] fits the 160-byte size class
// of Go's allocator (176 before).
func TestQueuedTaskLayout(t *testing.T) {
	if n := unsafe.Sizeof(typedTask[int]{}); n > 160 {
		t.Errorf("typedTask[int] is %d bytes, want at most 160", n)
	}
}
