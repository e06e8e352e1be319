package transport

import (
	"net"
	"sync/atomic"

	"go.nanomsg.org/mangos/v3"
)

// connSlots counts the connections a listener holds (in handshake, waiting
// for Accept, or open as pipes) against its OptionMaxConns cap. The zero
// value has no cap. Safe for concurrent use; a slot taken is given back
// exactly once, when its connection closes.
type connSlots struct {
	limit atomic.Int64 // 0: no cap
	held  atomic.Int64
}

// take claims a slot, or returns false when the cap is reached.
func (s *connSlots) take() bool {
	for {
		h := s.held.Load()
		if lim := s.limit.Load(); lim > 0 && h >= lim {
			return false
		}
		if s.held.CompareAndSwap(h, h+1) {
			return true
		}
	}
}

// give returns a slot claimed by take.
func (s *connSlots) give() { s.held.Add(-1) }

// refuse reports a connection closed at the cap.
func (s *connSlots) refuse(o options, url string, c net.Conn) {
	if e, ok := o.events.(LimitEvents); ok {
		e.OnConnLimit(url, addrString(c.RemoteAddr()), int(s.limit.Load()))
	}
}

// set sets the cap from an OptionMaxConns value.
func (s *connSlots) set(v any) error {
	n, ok := v.(int)
	if !ok || n < 0 {
		return mangos.ErrBadValue
	}
	s.limit.Store(int64(n))
	return nil
}

// max returns the cap, 0 for none.
func (s *connSlots) max() int { return int(s.limit.Load()) }
