package transport_test

import (
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/transport"
)

// TestLogRate floods a LogRate: a burst per interval goes through, the
// rest is counted and handed to the first line of the next interval.
func TestLogRate(t *testing.T) {
	r := transport.NewLogRate(3, time.Second)
	t0 := time.Unix(1000, 0)
	allowed := 0
	for i := range 10000 {
		ok, sup := r.Allow(t0.Add(time.Duration(i) * time.Microsecond))
		if ok {
			allowed++
			if sup != 0 {
				t.Fatalf("suppressed %d reported inside the first interval", sup)
			}
		}
	}
	if allowed != 3 {
		t.Fatalf("%d lines allowed in one interval, want 3", allowed)
	}
	ok, sup := r.Allow(t0.Add(time.Second))
	if !ok || sup != 9997 {
		t.Fatalf("next interval: ok %v, suppressed %d, want true and 9997", ok, sup)
	}
	if ok, sup := r.Allow(t0.Add(time.Second + 1)); !ok || sup != 0 {
		t.Fatalf("second line: %v %d", ok, sup)
	}
	if r := transport.NewLogRate(0, 0); r == nil {
		t.Fatal("nil")
	} else if ok, _ := r.Allow(t0); !ok {
		t.Fatal("a burst below 1 lets nothing through")
	}
}
