package runner

import (
	"sync"
	"testing"

	"github.com/nanoact/nanoact/sockets"
)

// seqOutlet records the order its tasks resolve in.
type seqOutlet struct {
	mu  *sync.Mutex
	got *[]int
	n   int
}

func (o seqOutlet) decode(sockets.Codec, []byte) error { return nil }
func (o seqOutlet) resolve(error) {
	o.mu.Lock()
	*o.got = append(*o.got, o.n)
	o.mu.Unlock()
}

// The resolver resolves what it is given in order, across its bursts;
// close resolves what is left and stops it; a post after close resolves
// on the caller's goroutine.
func TestResolverOrderAndClose(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []int
	var r resolver
	item := func(n int) lateResolve { return lateResolve{t: &task{out: seqOutlet{&mu, &got, n}}} }
	const n = 5000
	for i := 0; i < n; i += 2 {
		r.post(item(i), item(i+1))
	}
	r.close()
	mu.Lock()
	if len(got) != n {
		t.Fatalf("%d resolved of %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("resolved %d at %d", v, i)
		}
	}
	mu.Unlock()
	r.post(item(n))
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n+1 || got[n] != n {
		t.Fatal("a post after close was not resolved at once")
	}
}
