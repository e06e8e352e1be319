package httpd

import (
	"sync"

	"github.com/nanoact/nanoact"
)

// sender is a connection that Broadcast can send to.
type sender interface{ Send(data []byte) error }

// hub keeps the open connections of one WS or Stream handler: for
// Broadcast, for Shutdown and Close to end them, and to wait for the
// goroutines serving them (net/http does not wait for hijacked websocket
// connections).
type hub[C sender] struct {
	mu     sync.Mutex
	conns  map[uint64]C
	order  []uint64 // IDs in the order connections opened, compacted lazily
	ending bool
	end    chan struct{} // closed when the handler's connections must end
	abort  bool          // end at once rather than gracefully; under mu
	wg     sync.WaitGroup
}

func newHub[C sender]() *hub[C] {
	return &hub[C]{conns: map[uint64]C{}, end: make(chan struct{})}
}

// add registers c under id and counts its goroutine; false once the hub
// is ending (the caller answers 503).
func (h *hub[C]) add(id uint64, c C) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ending {
		return false
	}
	h.conns[id] = c
	h.order = append(h.order, id)
	h.wg.Add(1)
	return true
}

// remove forgets id and marks its goroutine done.
func (h *hub[C]) remove(id uint64) {
	h.leave(id)
	h.wg.Done()
}

// leave forgets id: its connection has closed, so Conns and Broadcast no
// longer count it, while its goroutine (still running the close callback)
// stays counted until remove. Forgetting an id twice is harmless.
func (h *hub[C]) leave(id uint64) {
	h.mu.Lock()
	delete(h.conns, id)
	if len(h.order) > 2*len(h.conns)+16 {
		live := h.order[:0]
		for _, x := range h.order {
			if _, ok := h.conns[x]; ok {
				live = append(live, x)
			}
		}
		h.order = live
	}
	h.mu.Unlock()
}

// snapshot returns the open connections, oldest first.
func (h *hub[C]) snapshot() []C {
	h.mu.Lock()
	defer h.mu.Unlock()
	cs := make([]C, 0, len(h.conns))
	for _, id := range h.order {
		if c, ok := h.conns[id]; ok {
			cs = append(cs, c)
		}
	}
	return cs
}

// count returns the number of open connections.
func (h *hub[C]) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// stop refuses new connections and closes end, telling every open one to
// finish; abort says to finish at once. Idempotent; a later abort upgrades
// an earlier graceful stop.
func (h *hub[C]) stop(abort bool) (aborting bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if abort {
		h.abort = true
	}
	if !h.ending {
		h.ending = true
		close(h.end)
	}
	return h.abort
}

// broadcast sends data to every open connection, oldest first, and
// returns to how many it was sent.
func (h *hub[C]) broadcast(data []byte) int {
	n := 0
	for _, c := range h.snapshot() {
		if c.Send(data) == nil {
			n++
		}
	}
	return n
}

// close is a handler's Close: end (the handler's endConns) asks every
// connection to end, then close waits for their goroutines. ErrClosed
// when the hub was already ending.
func (h *hub[C]) close(op string, end func(abort bool)) error {
	h.mu.Lock()
	again := h.ending
	h.mu.Unlock()
	end(false)
	h.wg.Wait()
	if again {
		return nanoact.Errorf(nanoact.CodeClosed, op, "already closed")
	}
	return nil
}
