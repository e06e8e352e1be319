package proto

// The shared send queue of the load-balancing protocols (push, pair, poly,
// req): one FIFO holding send-buffer messages plus one place per pipe, so
// that a pipe takes a message from the moment it is counted, as an NNG
// pipe does, and one sender's messages keep their order; and its backlog,
// where messages sent again wait for the next free writer.

// sending is what onSent decides for a message a pipe is about to write.
type sending int

const (
	sendIt    sending = iota // write it
	dropIt                   // no longer wanted (an abandoned request's resend): free it
	requeueIt                // the pipe is gone: send it on another
)

// fitSendq runs change with e.mu held, then resizes the send queue to
// send-buffer plus one place per pipe.
func (e *engine) fitSendq(change func()) {
	e.rsz.Lock()
	defer e.rsz.Unlock()
	e.mu.Lock()
	change()
	e.mu.Unlock()
	e.fitSendqLocked()
}

// fitSendqLocked resizes the send queue to send-buffer, plus the room
// held (HoldSend), plus one place per pipe. Call it with e.rsz held.
func (e *engine) fitSendqLocked() {
	e.mu.Lock()
	n := e.sendBuf + e.sendHeld + len(e.pipes)
	e.mu.Unlock()
	e.resizeSendq(n)
}

// resizeSendq makes the send queue n deep, if it is not. Call it with
// e.rsz held.
func (e *engine) resizeSendq(n int) {
	if n != cap(e.sendq.cur().ch) {
		e.sendq.resize(n, e.spillSend)
	}
}

// spillSend moves a message a resized send queue had no room for to the
// backlog, which writers take from first. Its pending count stays.
func (e *engine) spillSend(m *Message) {
	e.mu.Lock()
	e.backlog = append(e.backlog, m)
	e.nbacklog.Add(1)
	e.mu.Unlock()
	e.wake()
}

// next waits for the pipe's next message: the backlog's first, then
// whichever of its own queue and the shared one has one (its own first
// when both have). It returns nil once the pipe closes; shared reports a
// message of the shared queue.
func (p *pipe) next() (m *Message, shared bool) {
	e := p.e
	for {
		if e.nbacklog.Load() > 0 {
			if m = e.popBacklog(p); m != nil {
				return m, true
			}
		}
		var (
			g    *qgen
			sq   <-chan *Message
			gone <-chan struct{}
		)
		if e.sendq != nil {
			g = e.sendq.enter()
			sq, gone = g.ch, g.gone
			if e.nbacklog.Load() > 0 && !p.dead.Load() {
				g.leave() // a resize spilled meanwhile: that goes first
				continue
			}
		}
		// Fast path: a message already there is taken without the
		// five-way select (which locks every channel it waits on). Each
		// single-case select is a non-blocking receive that costs an
		// atomic load when the channel is empty. A closed pipe takes
		// nothing more. Every return leaves the generation entered.
		select {
		case <-p.closeq:
			leaveIf(g)
			return nil, false
		default:
		}
		select {
		case m = <-p.q:
			leaveIf(g)
			return m, false
		default:
		}
		select {
		case m = <-sq: // nil sq: never ready
			g.leave()
			return m, true
		default:
		}
		select {
		case m = <-p.q:
			leaveIf(g)
			return m, false
		case m = <-sq:
			g.leave()
			return m, true
		case <-e.kick:
		case <-gone: // the queue was resized: wait on the new one
		case <-p.closeq:
			leaveIf(g)
			return nil, false
		}
		leaveIf(g)
	}
}

// popBacklog takes the oldest message of the backlog for p, or returns
// nil; a pipe being removed takes none.
func (e *engine) popBacklog(p *pipe) *Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.backlog) == 0 {
		return nil
	}
	if p.dead.Load() {
		e.wake() // for a live writer
		return nil
	}
	m := e.backlog[0]
	e.backlog[0] = nil
	e.backlog = e.backlog[1:]
	e.nbacklog.Add(-1)
	if len(e.backlog) > 0 {
		e.wake()
	}
	return m
}

// wake tells one writer waiting on the shared queue to look at the
// backlog.
func (e *engine) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// offer queues m on the shared send queue without waiting.
func (e *engine) offer(m *Message) bool {
	g := e.sendq.enter()
	defer g.leave()
	e.pending.Add(1) // before the message is visible: see pipe.direct
	select {
	case g.ch <- m:
		return true
	default:
		e.pending.Add(-1)
		return false
	}
}

// requeue sends m again on the shared queue without waiting, or else
// puts it in the backlog, which the next free writer takes from (a pipe
// connecting later included). It consumes m.
func (e *engine) requeue(m *Message) {
	if e.isClosed() {
		m.Free()
		return
	}
	if e.offer(m) {
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		m.Free()
		return
	}
	e.backlog = append(e.backlog, m)
	e.nbacklog.Add(1)
	e.pending.Add(1)
	e.wake()
	e.mu.Unlock()
}

// SendHolder is implemented by protocols with a shared send queue (push,
// pair, poly, req).
type SendHolder interface {
	// HoldSend adds n places (n < 0 gives them back) to the shared send
	// queue beyond send-buffer, which Buffer still reports; see
	// engine.HoldSend.
	HoldSend(n int) error
}

// HoldSend implements SendHolder: a device holds room for a burst, so
// that the pipe's writer finds it queued and writes it at once (gather),
// without changing the send-buffer option. Giving room back keeps the
// messages queued, as SetBuffer does when shrinking. Cost: one
// allocation of the queue's new depth.
func (e *engine) HoldSend(n int) error {
	if e.sendq == nil {
		return errNotSupported
	}
	e.fitSendq(func() { e.sendHeld = max(e.sendHeld+n, 0) })
	return nil
}
