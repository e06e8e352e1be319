package runner

import (
	"testing"
	"unsafe"
)

// TestQueuedTaskLayout checks the layout a queued task's memory depends
// on (WithMaxQueued bounds the number of queued tasks, and issue 17 asks
// for at most 200 bytes a task beyond its payload): its aio in its own
// allocation (aio.Owned); its time-out (deadline and timer), context
// watch and trace out of line (taskWatch, made only for a task that has
// one); its dispatcher and typed end behind one shared pointer (outlet);
// its arguments as a pointer and a 32-bit length. typedTask[int], the aio
// included, fits the 176-byte size class of Go's allocator (two 160-byte
// objects before, the task and the aio). The outlets find a typedTask or
// setupTask from its task, which must come first.
func TestQueuedTaskLayout(t *testing.T) {
	if n := unsafe.Sizeof(typedTask[int]{}); n > 176 {
		t.Errorf("typedTask[int] is %d bytes, want at most 176", n)
	}
	if unsafe.Offsetof(typedTask[int]{}.task) != 0 || unsafe.Offsetof(typedTask[string]{}.task) != 0 ||
		unsafe.Offsetof(setupTask{}.task) != 0 {
		t.Error("a task is not the first field of its typedTask or setupTask")
	}
}
