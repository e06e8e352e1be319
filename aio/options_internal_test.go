package aio

import (
	"testing"
	"time"

	"github.com/nanoact/nanoact/sockets"
)

// Every option is applied through its own apply method, and applying
// options keeps the config off the heap: an aio made with options costs
// no more allocations than one made without, but for the out-of-line
// extra (one allocation) of an aio that signals CVs.
func TestOptionsApplyOnStack(t *testing.T) {
	cv1, cv2 := NewCV(), NewCV()
	opts := []Option{nil, Timeout(time.Second), Mode(sockets.Raw), ToPipe(7), Signal(cv1), Signal(cv2), Signal(nil), WithSystem(nil), WithLogger(nil)}
	_, cfg := newAio[int](opts)
	if !cfg.hasTimeout || cfg.timeout != time.Second || cfg.mode != sockets.Raw || cfg.pipe != 7 ||
		cfg.cv != cv1 || len(cfg.cvs) != 1 || cfg.cvs[0] != cv2 {
		t.Fatalf("options not applied: %+v", cfg)
	}
	few := []Option{Timeout(time.Second), Mode(sockets.Raw), ToPipe(7)}
	without := testing.AllocsPerRun(100, func() { newAio[int](nil) })
	with := testing.AllocsPerRun(100, func() { newAio[int](few) })
	if with != without {
		t.Fatalf("options cost %v allocations per aio, none expected (%v without, %v with)", with-without, without, with)
	}
	sig := []Option{Timeout(time.Second), Signal(cv1)}
	signals := testing.AllocsPerRun(100, func() { newAio[int](sig) })
	if signals != without+1 {
		t.Fatalf("Signal costs %v allocations per aio, one expected (the extra)", signals-without)
	}
}
