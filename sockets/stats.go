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
// Socket:   id, pipes, dialers, listeners, reject, reject_veto,
//           oversize, tx_msgs, rx_msgs, tx_bytes, rx_bytes;
//           strings: protocol, name
// Dialer:   id, socket, pipes, connect, reject, refused, disconnect;
//           string: url
// Listener: id, socket, pipes, accept, reject, disconnect; string: url
// Pipe:     id, socket, dialer, listener, tx_msgs, rx_msgs, tx_bytes,
//           rx_bytes; strings: url, remote_address, local_address
//
// Numbers come from Stat and Stats, strings from StatString and
// StringStats (nanonext's stat() returns either, by name); asking one for
// the other's name gives ErrBadType. reject counts connections refused
// after they were made, for any cause (wrong peer protocol in the SP
// handshake, a listener over its cap, a pipe veto), as NNG's; reject_veto
// counts those a pipe veto refused (WithPipeVeto).
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
// an unknown name, ErrClosed once the socket is closed. It costs a few
// atomic loads and never blocks.
func (s *Socket) Stat(name string) (int64, error) {
	if s.isClosed() {
		return 0, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: stat " + name}
	}
	return statNum(s.Stats(), s.StringStats(), name)
}

// StatString returns one of the socket's string statistics by NNG name:
// protocol (its canonical name, "req") or name (the socket-name option);
// ErrNotFound for an unknown name, ErrBadType for a numeric one, ErrClosed
// once the socket is closed. It never blocks.
func (s *Socket) StatString(name string) (string, error) {
	if s.isClosed() {
		return "", &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: stat " + name}
	}
	return statStr(s.Stats(), s.StringStats(), name)
}

// StringStats returns every string statistic of the socket.
func (s *Socket) StringStats() map[string]string {
	return map[string]string{"protocol": s.proto.String(), "name": s.Name()}
}

// Stats returns every statistic of the socket.
func (s *Socket) Stats() map[string]int64 {
	c := s.eng.Counters()
	s.mu.Lock()
	nd, nl := len(s.dialers), len(s.listeners)
	s.mu.Unlock()
	m := map[string]int64{
		"id":          int64(s.id),
		"pipes":       int64(s.eng.Pipes()),
		"dialers":     int64(nd),
		"listeners":   int64(nl),
		"reject":      s.rejects.Load(),
		"reject_veto": s.vetoes.refused.Load(),
		"oversize":    s.oversize.Load(),
		"tx_msgs":     int64(c.TxMsgs),
		"rx_msgs":     int64(c.RxMsgs),
		"tx_bytes":    int64(c.TxBytes),
		"rx_bytes":    int64(c.RxBytes),
	}
	for r, n := range c.Drops {
		m[proto.Drop(r).String()] = int64(n)
	}
	return m
}

// Stat returns one of the dialer's statistics by NNG name; ErrNotFound for
// an unknown name, ErrBadType for a string statistic.
func (d *Dialer) Stat(name string) (int64, error) { return statNum(d.Stats(), d.StringStats(), name) }

// StatString returns one of the dialer's string statistics by NNG name
// (url, as given); ErrNotFound for an unknown name, ErrBadType for a
// numeric one.
func (d *Dialer) StatString(name string) (string, error) {
	return statStr(d.Stats(), d.StringStats(), name)
}

// StringStats returns every string statistic of the dialer.
func (d *Dialer) StringStats() map[string]string { return map[string]string{"url": d.URL()} }

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
// for an unknown name, ErrBadType for a string statistic.
func (l *Listener) Stat(name string) (int64, error) {
	return statNum(l.Stats(), l.StringStats(), name)
}

// StatString returns one of the listener's string statistics by NNG name
// (url, with the bound port of a port-0 listener); ErrNotFound for an
// unknown name, ErrBadType for a numeric one.
func (l *Listener) StatString(name string) (string, error) {
	return statStr(l.Stats(), l.StringStats(), name)
}

// StringStats returns every string statistic of the listener.
func (l *Listener) StringStats() map[string]string { return map[string]string{"url": l.URL()} }

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

// statNum looks name up among nums; ErrBadType if it is in strs instead.
func statNum(nums map[string]int64, strs map[string]string, name string) (int64, error) {
	if v, ok := nums[name]; ok {
		return v, nil
	}
	return 0, statMiss(strs, name)
}

// statStr looks name up among strs; ErrBadType if it is in nums instead.
func statStr(nums map[string]int64, strs map[string]string, name string) (string, error) {
	if v, ok := strs[name]; ok {
		return v, nil
	}
	return "", statMiss(nums, name)
}

// statMiss is the error for a name not of the kind asked for: ErrBadType
// if other holds it, ErrNotFound otherwise.
func statMiss[V any](other map[string]V, name string) error {
	if _, ok := other[name]; ok {
		return &nanoact.Error{Code: nanoact.CodeBadType, Op: "sockets: stat " + name}
	}
	return &nanoact.Error{Code: nanoact.CodeNotFound, Op: "sockets: stat " + name}
}

// StatNames returns the statistic names of a socket, numeric and string,
// sorted.
func StatNames(s *Socket) []string {
	names := make([]string, 0, 13+int(proto.NumDrops))
	for n := range s.Stats() {
		names = append(names, n)
	}
	for n := range s.StringStats() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
