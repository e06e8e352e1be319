package sockets

import (
	"sort"
	"sync/atomic"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/proto"
)

// Statistics, as NNG keeps them (nanonext's stat()). Each value is atomic
// on its own; a set of them read together is not a consistent snapshot.
//
// Socket:   id, pipes, dialers, listeners, reject, oversize, tx_msgs,
//           rx_msgs, tx_bytes, rx_bytes
// Dialer:   id, socket, pipes, connect, reject, refused, disconnect
// Listener: id, socket, pipes, accept, reject, disconnect
//
// Byte and message counts are those the socket's connections read and
// wrote, protocol headers included; a message broadcast to three peers
// counts three times.
//
// Every message a protocol drops is counted, by reason (a socket has all
// of them; each protocol moves only those that apply to it):
//
//   drop_pub_full     pub: a subscriber's queue was full, so its oldest
//                     queued message was dropped for the new one (as NNG)
//   drop_send_full    bus, surveyor: a peer's queue was full, so the new
//                     message was not queued for it
//   drop_recv_full    sub, surveyor: a receive queue was full (sub drops
//                     its oldest with sub:prefnew, else the new one)
//   drop_stale_reply  req: a reply to no outstanding request (stale, a
//                     duplicate after a resend, or an abandoned request)
//   drop_late_answer  surveyor: an answer after its survey ended
//   drop_pipe_gone    a message for one connection only (a reply, a pub
//                     copy, a directed send) whose connection closed
//   drop_bad          a malformed protocol header, or over the hop limit
//   req_resent        req: requests sent again (resend timer, or the
//                     connection carrying them closed)

// endpointStats are a dialer's or listener's counters.
type endpointStats struct {
	connect    atomic.Int64 // connect (dialer) or accept (listener)
	disconnect atomic.Int64
	reject     atomic.Int64
	refused    atomic.Int64
}

// Stat returns one of the socket's statistics by NNG name; ErrNotFound for
// an unknown name. It costs a few atomic loads and never blocks.
func (s *Socket) Stat(name string) (int64, error) {
	v, ok := s.Stats()[name]
	if !ok {
		return 0, &nanoact.Error{Code: nanoact.CodeNotFound, Op: "sockets: stat " + name}
	}
	return v, nil
}

// Stats returns every statistic of the socket.
func (s *Socket) Stats() map[string]int64 {
	c := s.eng.Counters()
	s.mu.Lock()
	nd, nl := len(s.dialers), len(s.listeners)
	s.mu.Unlock()
	m := map[string]int64{
		"id":        int64(s.id),
		"pipes":     int64(s.eng.Pipes()),
		"dialers":   int64(nd),
		"listeners": int64(nl),
		"reject":    s.rejects.Load(),
		"oversize":  s.oversize.Load(),
		"tx_msgs":   int64(c.TxMsgs),
		"rx_msgs":   int64(c.RxMsgs),
		"tx_bytes":  int64(c.TxBytes),
		"rx_bytes":  int64(c.RxBytes),
	}
	for r, n := range c.Drops {
		m[proto.Drop(r).String()] = int64(n)
	}
	return m
}

// Stat returns one of the dialer's statistics by NNG name; ErrNotFound for
// an unknown name.
func (d *Dialer) Stat(name string) (int64, error) { return stat(d.Stats(), name) }

// Stats returns every statistic of the dialer.
func (d *Dialer) Stats() map[string]int64 {
	return map[string]int64{
		"id":         int64(d.id),
		"socket":     int64(d.s.id),
		"pipes":      int64(d.Pipes()),
		"connect":    d.stats.connect.Load(),
		"reject":     d.stats.reject.Load(),
		"refused":    d.stats.refused.Load(),
		"disconnect": d.stats.disconnect.Load(),
	}
}

// Stat returns one of the listener's statistics by NNG name; ErrNotFound
// for an unknown name.
func (l *Listener) Stat(name string) (int64, error) { return stat(l.Stats(), name) }

// Stats returns every statistic of the listener.
func (l *Listener) Stats() map[string]int64 {
	return map[string]int64{
		"id":         int64(l.id),
		"socket":     int64(l.s.id),
		"pipes":      int64(l.Pipes()),
		"accept":     l.stats.connect.Load(),
		"reject":     l.stats.reject.Load(),
		"disconnect": l.stats.disconnect.Load(),
	}
}

func stat(m map[string]int64, name string) (int64, error) {
	v, ok := m[name]
	if !ok {
		return 0, &nanoact.Error{Code: nanoact.CodeNotFound, Op: "sockets: stat " + name}
	}
	return v, nil
}

// StatNames returns the statistic names of a socket, sorted.
func StatNames(s *Socket) []string {
	names := make([]string, 0, 10+int(proto.NumDrops))
	for n := range s.Stats() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
