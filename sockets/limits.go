package sockets

import (
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact/internal/transport"
)

// What a peer may hold: the receive budget, idle pipes, crowded
// listeners, and how faults are logged. NNG 1.x has none of these; they
// are off or generous by default except the budget, which only a peer
// that announces (and sends) a huge message meets.

// RecvBudget holds the process-wide receive budget's figures: its Limit,
// the bytes Held now in messages still arriving, the Peak held, and the
// messages Refused so far.
type RecvBudget = transport.BudgetStats

// SetRecvBudget sets the process-wide receive budget: the most bytes all
// connections of the process together may hold in messages that are still
// arriving, whatever their sockets' recv-size-max (a peer that announces
// a huge message and streams it makes the receiver hold what it sent). A
// message whose next buffer would take the total past the budget closes
// its connection, which is logged at Warn and counted in the socket's
// "oversize" statistic; other connections carry on. n > 0 sets the budget
// in bytes; n <= 0 restores the default, a quarter of the smallest of
// GOMEMLIMIT, the cgroup memory limit and physical memory (at least
// 64 MiB). It returns the budget that was in force. A change applies to
// the next buffer a connection asks for. It does not block.
//
// A message needs up to about twice its size of budget while it arrives
// (its buffer doubles as bytes come), so the budget also caps the largest
// message an honest peer can send.
func SetRecvBudget(n int64) (old int64) { return transport.SetRecvBudget(n) }

// RecvBudgetStats returns the receive budget's figures. It does not
// block.
func RecvBudgetStats() RecvBudget { return transport.RecvBudgetStats() }

// WithIdleTimeout closes a connection that receives nothing for d (on
// ws and wss: no message data). Default 0: never, as in NNG; SP has no
// keep-alive message, so give it only to sockets whose peers talk more
// often than d. A closed connection is logged at Info; a dialer then
// reconnects. It applies to every transport but inproc, to dialers and
// listeners created afterwards. Negative d is taken as 0.
func WithIdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.idleTimeout = max(d, 0) })
}

// WithMaxConns caps the connections each listener of the socket holds at
// once, those still in their handshake included: one accepted over the
// cap is closed at once (a ws or wss connection counts once its request
// names the listener, and gets HTTP 503 over the cap; until then a port
// lets at most the sum of its listeners' caps into their upgrade), logged
// at Warn and counted in the "reject" statistics. Default 0: no cap, as in
// NNG. It applies to every transport but inproc, to listeners created
// afterwards. Negative n is taken as 0.
func WithMaxConns(n int) Option {
	return optionFunc(func(c *config) { c.maxConns = max(n, 0) })
}

// newTransportEvents returns the events hook of one dialer or listener:
// its log lines about peers are rate-limited to transport.LogBurst per
// transport.LogInterval (counters see every event).
func newTransportEvents(s *Socket) transportEvents {
	return transportEvents{s: s, rate: transport.NewLogRate(transport.LogBurst, transport.LogInterval)}
}

// allow reports whether a log line about a peer may be written now; when
// lines were suppressed before it, it first writes one line saying how
// many.
func (e transportEvents) allow() bool {
	ok, n := e.rate.Allow(time.Now())
	if ok && n > 0 {
		e.s.log.Warn("peer fault log lines suppressed", zap.Int64("suppressed", n),
			zap.Duration("interval", transport.LogInterval))
	}
	return ok
}

// OnRecvBudget implements transport.LimitEvents.
func (e transportEvents) OnRecvBudget(url, remote string, size uint64, budget int64) {
	e.s.oversize.Add(1)
	if !e.allow() {
		return
	}
	e.s.log.Warn("message over the process receive budget: connection closed",
		zap.String("url", url), zap.String("remote", remote), zap.Uint64("size", size), zap.Int64("budget", budget))
}

// OnConnLimit implements transport.LimitEvents.
func (e transportEvents) OnConnLimit(url, remote string, limit int) {
	e.s.rejects.Add(1)
	e.s.endpointByURL(url, func(ep *endpoint) { ep.stats.reject.Add(1) })
	if !e.allow() {
		return
	}
	e.s.log.Warn("connection over the listener's cap: closed",
		zap.String("url", url), zap.String("remote", remote), zap.Int("limit", limit))
}

// OnIdle implements transport.LimitEvents.
func (e transportEvents) OnIdle(url, remote string, idle time.Duration) {
	if !e.allow() {
		return
	}
	e.s.log.Info("connection idle: closed",
		zap.String("url", url), zap.String("remote", remote), zap.Duration("idle", idle))
}
