package watch_test

import (
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact/internal/watch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAddEmitRemove(t *testing.T) {
	var l watch.List[int]
	if l.On() {
		t.Fatal("empty list is on")
	}
	l.Emit(1) // nobody listens: no call, no panic
	var a, b []int
	ra := l.Add(func(v int) { a = append(a, v) })
	rb := l.Add(func(v int) { b = append(b, v) })
	if !l.On() {
		t.Fatal("list with two functions is off")
	}
	l.Emit(2)
	ra()
	ra() // idempotent
	l.Emit(3)
	rb()
	l.Emit(4)
	if l.On() {
		t.Fatal("list is on after every remove")
	}
	if len(a) != 1 || a[0] != 2 {
		t.Fatalf("a got %v, want [2]", a)
	}
	if len(b) != 2 || b[0] != 2 || b[1] != 3 {
		t.Fatalf("b got %v, want [2 3]", b)
	}
}

func TestConcurrent(t *testing.T) {
	var l watch.List[int]
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				rm := l.Add(func(v int) { mu.Lock(); total += v; mu.Unlock() })
				l.Emit(1)
				rm()
			}
		})
	}
	wg.Wait()
	if l.On() {
		t.Fatal("list is on after every remove")
	}
	if total < 400 {
		t.Fatalf("emitted to %d functions, want at least 400 (each emit sees its own)", total)
	}
}

func BenchmarkEmitEmpty(b *testing.B) {
	var l watch.List[int]
	for b.Loop() {
		l.Emit(1)
	}
}
