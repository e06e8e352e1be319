package msgpool

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRoom(t *testing.T) {
	for _, n := range []int{0, 1, 64, 65, 1000, largest - 1, largest, largest + 1, 1 << 20} {
		m := New(n)
		if len(m.Body) != 0 || cap(m.Body) < n {
			t.Fatalf("New(%d): len %d cap %d", n, len(m.Body), cap(m.Body))
		}
		m.Free()
	}
}

// A 64 KiB message comes back from the cache once freed: after warming,
// making and freeing one allocates nothing.
func TestLargestIsPooled(t *testing.T) {
	New(largest).Free()
	allocs := testing.AllocsPerRun(100, func() { New(largest).Free() })
	if allocs > 0.5 {
		t.Fatalf("%.1f allocations per 64 KiB message", allocs)
	}
}
