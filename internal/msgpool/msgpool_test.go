package msgpool

import (
	"fmt"
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

// BenchmarkNew makes and frees a message of each size: at 64 KiB, 0
// allocations per op once warm means the message came from mangos' cache
// (mangos.NewMessage(65536) allocates 64 KiB every time). A benchmark, not
// a test: sync.Pool may drop what it holds at any GC, and drops items at
// random under the race detector.
func BenchmarkNew(b *testing.B) {
	for _, n := range []int{64, 1 << 10, largest} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				New(n).Free()
			}
		})
	}
}
