package sockets

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

// WithPipeVeto sets a function that judges every new connection of the
// socket before it is added, NNG's pre-add pipe event (NNG_PIPE_EV_ADD_PRE,
// where a callback may close the pipe): veto returns nil to admit the
// connection, or an error (its reason) to refuse it. A refused connection
// is closed before the protocol sees it: the peer sees its connection
// closed right after the SP handshake (a peer's dialer redials, as after
// any lost connection), no PipeEvent is raised for it, and the socket
// goes on serving the others. Each refusal is counted in the socket's
// "reject" and "reject_veto" statistics and its dialer's or listener's
// "reject", and logged at Warn with the peer's address and the reason
// (at most transport.LogBurst lines per transport.LogInterval, as other
// peer faults).
//
// veto may judge by address (Pipe.RemoteAddr), by the peer's process
// credentials on ipc (Pipe.PeerCred), by the endpoint (Pipe.Listener,
// Pipe.Dialer) or anything else; the Pipe's statistics are zero. It runs
// synchronously on the goroutine that made the connection, so the
// listener accepts (or the dialer connects) nothing else until it returns:
// return promptly. It may run for several connections at once, so it must
// be safe for concurrent use. It must not call Close on the Pipe (that
// returns ErrNotFound: return an error instead) nor close the socket. A
// panic in veto is recovered, logged at Error with its stack, and refuses
// the connection.
//
// Default: none, every connection is admitted (NNG's default). It applies
// to every transport, inproc included.
func WithPipeVeto(veto func(p *Pipe) error) Option {
	return optionFunc(func(c *config) { c.veto = veto })
}

// vetoSet applies a socket's pipe veto and follows the connections it
// refused until mangos has let go of them.
//
// A refused pipe is left out by the protocol engine (proto SetRefuse), so
// mangos takes it as added and runs its Attached hook, where it is closed;
// its Detached hook follows, possibly before the Attached one when the
// socket closes at the same time. Both are swallowed here.
type vetoSet struct {
	s       *Socket
	fn      func(*Pipe) error // nil: no veto
	rate    *transport.LogRate
	refused atomic.Int64 // the "reject_veto" statistic

	mu   sync.Mutex
	pend map[uint32]*vetoState // pipes being judged, or refused and not yet detached
}

type vetoState struct {
	refused, attached, detached bool
}

// init prepares the veto of s; a socket without one costs nothing.
func (v *vetoSet) init(s *Socket, fn func(*Pipe) error) {
	if fn == nil {
		return
	}
	v.s, v.fn = s, fn
	v.rate = transport.NewLogRate(transport.LogBurst, transport.LogInterval)
	v.pend = make(map[uint32]*vetoState)
	s.eng.SetRefuse(v.judge)
}

// judge runs in the engine's AddPipe: true refuses mp.
func (v *vetoSet) judge(mp mangos.ProtocolPipe) bool {
	p, ok := mp.(mangos.Pipe) // mangos' core pipe is one
	if !ok {
		return false
	}
	id := p.ID()
	st := &vetoState{}
	v.mu.Lock()
	v.pend[id] = st
	v.mu.Unlock()
	err := v.call(&Pipe{s: v.s, id: id, mp: p})
	v.mu.Lock()
	if err == nil {
		delete(v.pend, id)
		v.mu.Unlock()
		return false
	}
	st.refused = true
	v.mu.Unlock()

	v.refused.Add(1)
	v.s.rejects.Add(1)
	url := ""
	v.s.pipes.endpointOf(p, func(e *endpoint) {
		e.stats.reject.Add(1)
		url = e.url
	})
	if ok, n := v.rate.Allow(time.Now()); ok {
		if n > 0 {
			v.s.log.Warn("peer fault log lines suppressed", zap.Int64("suppressed", n),
				zap.Duration("interval", transport.LogInterval))
		}
		remote, _ := (&Pipe{s: v.s, id: id, mp: p}).RemoteAddr()
		v.s.log.Warn("connection refused by the pipe veto: closed", zap.Uint32("pipe", id),
			zap.String("url", url), zap.String("remote", remote), zap.Error(err))
	}
	return true
}

// call runs the veto, turning a panic into a refusal.
func (v *vetoSet) call(p *Pipe) (err error) {
	defer func() {
		if r := recover(); r != nil {
			v.s.log.Error("pipe veto panicked", zap.Uint32("pipe", p.id), zap.Any("panic", r), zap.Stack("stack"))
			err = &nanoact.Error{Code: nanoact.CodeInternal, Op: "sockets: pipe veto", Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	return v.fn(p)
}

// pending reports whether pipe id is being judged or was refused and is
// not gone yet.
func (v *vetoSet) pending(id uint32) bool {
	if v.fn == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.pend[id]
	return ok
}

// attached handles mangos' Attached hook: true if p was refused, which it
// then closes (mangos no longer holds its lock).
func (v *vetoSet) attached(p mangos.Pipe) bool {
	if v.fn == nil {
		return false
	}
	id := p.ID()
	v.mu.Lock()
	st, ok := v.pend[id]
	if !ok || !st.refused {
		v.mu.Unlock()
		return false
	}
	st.attached = true
	if st.detached {
		delete(v.pend, id)
	}
	v.mu.Unlock()
	_ = p.Close() // its Detached hook follows
	return true
}

// detached handles mangos' Detached hook: true if p was refused.
func (v *vetoSet) detached(id uint32) bool {
	if v.fn == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	st, ok := v.pend[id]
	if !ok || !st.refused {
		return false
	}
	st.detached = true
	if st.attached {
		delete(v.pend, id)
	}
	return true
}
