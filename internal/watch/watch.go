// Package watch holds a list of observer functions that costs one atomic
// load to consult while it is empty, so that a hot path can offer
// observation (latency histograms, dashboards) and pay nothing until
// somebody watches.
package watch

import (
	"slices"
	"sync"
	"sync/atomic"
)

// List is a set of functions called with each value emitted. The zero
// value is ready to use; it must not be copied after first use. Emit and
// On are safe for concurrent use with Add and the remove functions.
type List[T any] struct {
	mu  sync.Mutex                 // serialises Add and remove
	fns atomic.Pointer[[]*func(T)] // nil while empty; replaced, never mutated
}

// On reports whether any function is registered: one atomic load.
func (l *List[T]) On() bool { return l.fns.Load() != nil }

// Emit calls every registered function with v, in the order they were
// added, on the caller's goroutine. With none registered it costs one
// atomic load. A function removed during Emit may still be called once.
func (l *List[T]) Emit(v T) {
	p := l.fns.Load()
	if p == nil {
		return
	}
	for _, fn := range *p {
		(*fn)(v)
	}
}

// Add registers fn and returns the function that removes it (idempotent).
// It copies the list: registration is for set-up, not for a hot path.
func (l *List[T]) Add(fn func(T)) (remove func()) {
	f := &fn
	l.mu.Lock()
	l.store(append(l.load(), f))
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.store(slices.DeleteFunc(l.load(), func(x *func(T)) bool { return x == f }))
		})
	}
}

// load returns a copy of the list, for Add and remove (under mu).
func (l *List[T]) load() []*func(T) {
	if p := l.fns.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

func (l *List[T]) store(fns []*func(T)) {
	if len(fns) == 0 {
		l.fns.Store(nil)
		return
	}
	l.fns.Store(&fns)
}
