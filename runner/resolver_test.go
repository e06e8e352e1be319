package runner

import (
	"sync"
	"testing"

	"github.com/nanoact/nanoact/sockets"
)

// seqOutlet is an outlet that records the order its tasks resolve in, by
// their ids.
func seqOutlet(mu *sync.Mutex, got *[]int) *outlet {
	return &outlet{
		decode: func(*task, sockets.Codec, []byte) error { return nil },
		resolve: func(t *task, _ error) {
			mu.Lock()
			*got = append(*got, int(t.id))
			mu.Unlock()
		},
	}
}

// The resolver resolves what it is given in order, across its bursts;
// close resolves what is left and stops it; a post after close resolves
// on the caller's goroutine.
func TestResolverOrderAndClose(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []int
	var r resolver
	out := seqOutlet(&mu, &got)
	item := func(n int) lateResolve { return lateResolve{t: &task{out: out, id: uint64(n)}} }
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
