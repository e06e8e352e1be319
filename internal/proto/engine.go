package proto

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

// Message is mangos' message: Header holds the protocol header (exposed in
// raw mode), Body the payload, Pipe the pipe it arrived on.
type Message = mangos.Message

// Defaults for queue depths, as NNG's.
const (
	defaultRecvBuffer = 128
	pipeQueueLen      = 16
	defaultTTL        = 8
)

type nonBlockKey struct{}

// NonBlock returns a context that marks an operation as non-blocking: it
// completes only if it can do so at once, and otherwise fails with
// nanoact.ErrTryAgain. The context is never done.
func NonBlock(parent context.Context) context.Context {
	return context.WithValue(parent, nonBlockKey{}, true)
}

// IsNonBlock reports whether ctx was made by NonBlock.
func IsNonBlock(ctx context.Context) bool {
	v, _ := ctx.Value(nonBlockKey{}).(bool)
	return v
}

// waitErr is the error of a wait that could not complete: ErrTryAgain for a
// non-blocking operation, otherwise the context's end as an nanoact error.
func waitErr(ctx context.Context, op string) error {
	if IsNonBlock(ctx) {
		return &nanoact.Error{Code: nanoact.CodeTryAgain, Op: op}
	}
	return nanoact.FromContext(ctx, op)
}

var errClosed = nanoact.ErrClosed

// pipe is the engine's state for one connection.
type pipe struct {
	e      *engine
	mp     mangos.ProtocolPipe
	id     uint32
	q      chan *Message // messages addressed to this pipe only
	dead   atomic.Bool   // removed: set under e.mu before closeq closes
	closeq chan struct{}

	// The pipe's own share of the socket's counters (PipeCounters).
	rxMsgs, rxBytes, txMsgs, txBytes atomic.Uint64

	bs    transport.BatchSender // nil: the pipe writes one message at a time
	batch []*Message            // the sender's messages for one write

	// ts, when set (inproc), lets a sender hand a message straight to
	// the peer's waiting receiver (see direct); own then counts the
	// messages put on q and not yet written or dropped, so that a direct
	// hand-off never overtakes one of them.
	ts  transport.TrySender
	own atomic.Int64
}

// engine is what every protocol shares: the pipe set, one receiver and one
// sender goroutine per pipe, the socket-wide receive queue and the shared
// send queue from which any free pipe takes the next message (load
// balancing as NNG's push, req and pair do).
type engine struct {
	info     mangos.ProtocolInfo
	raw      bool
	maxPipes int // 0 = unlimited

	mu     sync.Mutex
	pipes  map[uint32]*pipe
	order  []*pipe      // for round-robin scans
	npipes atomic.Int32 // len(pipes), read by writers without the lock
	// solo is the one pipe while there is exactly one and it can take a
	// message directly (pipe.direct); nil otherwise. Set under mu.
	solo   atomic.Pointer[pipe]
	closed bool
	closeq chan struct{}
	wg     sync.WaitGroup
	// closing is set by BeginClose, before the socket's dialers and
	// listeners close their pipes: a pipe lost from then on is the
	// socket closing, not a connection failing.
	closing atomic.Bool

	// live counts the pipes' goroutines, incb the receivers among them
	// that are running a Completer (see complete and waitPipes).
	live, incb atomic.Int32

	// sendq is the shared, load-balanced send queue; nil for protocols
	// that only send to chosen pipes. It holds sendBuf messages (the
	// send-buffer option) plus one per pipe: as an NNG pipe does, a pipe
	// takes a message from the moment it is counted, its writer waiting
	// or not (see fitSendq). rsz serialises its resizes.
	sendq   *queue
	sendBuf int // guarded by mu
	// sendHeld is the room devices hold beyond sendBuf (HoldSend),
	// guarded by mu; Buffer does not count it.
	sendHeld int
	rsz      sync.Mutex
	// recvq is the socket-wide receive queue; nil for send-only protocols.
	recvq *queue
	// onRecv handles one message read from p; nil drops it (send-only
	// protocols still read, to notice the peer closing).
	onRecv func(p *pipe, m *Message)
	// onAdd and onRemove let a protocol track pipes (may be nil); onRemove
	// runs without e.mu held.
	onAdd    func(p *pipe)
	onRemove func(p *pipe)
	// refuse, when set, names pipes AddPipe must leave out (SetRefuse).
	refuse atomic.Pointer[func(mp mangos.ProtocolPipe) bool]
	// pending counts messages queued for sending and not yet written.
	pending atomic.Int64

	// ready mirrors "a message waits" for Ready and RecvFD.
	ready readiness

	// Asynchronous receives waiting on recvq (see async.go): wmu guards
	// waiters; nwait counts them, plus those being queued.
	wmu     sync.Mutex
	waiters waitList
	nwait   atomic.Int32

	// counters for statistics, kept by the pipe goroutines.
	rxMsgs, rxBytes, txMsgs, txBytes atomic.Uint64

	// onSent, if set, sees each message a pipe takes from the shared send
	// queue (or the backlog), just before it is written, and
	// says what to do with it (see sending).
	onSent func(p *pipe, m *Message) sending

	// The shared queue's overflow, guarded by mu: messages sent again (a
	// request resent, one a dying pipe took, or those a shrinking queue
	// had no room for) when the queue could not take them at once go to
	// the next pipe whose writer is free, before the queue's. nbacklog is
	// its length, read by writers without the lock; kick wakes one writer
	// waiting on the queue after a message joins the backlog.
	backlog  []*Message
	nbacklog atomic.Int32
	kick     chan struct{}

	// drops counts the messages dropped, by reason (see Drop).
	drops [NumDrops]atomic.Uint64
}

// Buffered is implemented by protocols whose queue depths can be set.
type Buffered interface {
	// SetBuffer sets the depth of the send (send true) or receive queue,
	// at any time, keeping the messages queued; see engine.SetBuffer.
	SetBuffer(send bool, n int) error
	// Buffer returns a queue's depth.
	Buffer(send bool) (int, error)
}

// SetBuffer implements Buffered for the engine's shared queues. It may be
// called at any time; a send or receive waiting on the queue carries on
// on the new one. Shrinking a queue below what it holds drops the oldest
// messages of a receive queue (as NNG does; counted in drop_recv_full),
// and sends those of a send queue first, from the backlog, so a send
// queue loses nothing. Cost: one allocation of n slots.
func (e *engine) SetBuffer(send bool, n int) error {
	if send {
		if e.sendq == nil {
			return errNotSupported
		}
		e.fitSendq(func() { e.sendBuf = n })
		return nil
	}
	if e.recvq == nil {
		return errNotSupported
	}
	e.recvq.resize(n, e.spillRecv)
	e.ready.notify()
	return nil
}

// Buffer implements Buffered.
func (e *engine) Buffer(send bool) (int, error) {
	if send {
		if e.sendq == nil {
			return 0, errNotSupported
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.sendBuf, nil
	}
	if e.recvq == nil {
		return 0, errNotSupported
	}
	return cap(e.recvq.cur().ch), nil
}

func newEngine(info mangos.ProtocolInfo, raw bool, sendBuf int, recv bool) *engine {
	e := &engine{
		info:   info,
		raw:    raw,
		pipes:  make(map[uint32]*pipe),
		closeq: make(chan struct{}),
	}
	if sendBuf >= 0 {
		e.sendBuf = sendBuf
		e.sendq = newQueue(sendBuf)
		e.kick = make(chan struct{}, 1)
	}
	if recv {
		e.recvq = newQueue(defaultRecvBuffer)
	}
	e.ready.waiting = func() int { return len(e.recvq.cur().ch) }
	return e
}

// Ready returns a channel closed while a message waits to be received.
func (e *engine) Ready() <-chan struct{} { return e.ready.Ready() }

// RecvFD returns a descriptor readable while a message waits.
func (e *engine) RecvFD() (int, error) { return e.ready.RecvFD() }

// Info implements mangos.ProtocolBase.
func (e *engine) Info() mangos.ProtocolInfo { return e.info }

// Raw reports whether the socket is in raw mode.
func (e *engine) Raw() bool { return e.raw }

// AddPipe implements mangos.ProtocolBase: it starts the pipe's receiver and
// sender goroutines. A pair socket refuses a second pipe. A pipe takes a
// message of the shared send queue from the moment it is counted: the
// queue grows by one place for it first.
func (e *engine) AddPipe(mp mangos.ProtocolPipe) error {
	if f := e.refuse.Load(); f != nil && (*f)(mp) {
		return nil // left out, never started: its owner closes it (SetRefuse)
	}
	p := &pipe{e: e, mp: mp, id: mp.ID(), q: make(chan *Message, pipeQueueLen), closeq: make(chan struct{})}
	if o, ok := mp.(interface{ GetOption(string) (any, error) }); ok { // mangos' core pipe
		if v, err := o.GetOption(transport.OptionBatchSender); err == nil {
			p.bs, _ = v.(transport.BatchSender)
		}
		if v, err := o.GetOption(transport.OptionTrySender); err == nil && p.bs == nil {
			p.ts, _ = v.(transport.TrySender)
		}
	}
	check := func() error {
		if e.closed {
			return mangos.ErrClosed
		}
		if e.maxPipes > 0 && len(e.pipes) >= e.maxPipes {
			return mangos.ErrProtoState
		}
		return nil
	}
	if e.sendq != nil {
		e.rsz.Lock()
		defer e.rsz.Unlock()
		e.mu.Lock()
		err := check()
		n := e.sendBuf + e.sendHeld + len(e.pipes) + 1
		e.mu.Unlock()
		if err != nil {
			return err
		}
		e.resizeSendq(n)
	}
	e.mu.Lock()
	if err := check(); err != nil {
		e.mu.Unlock()
		if e.sendq != nil {
			e.fitSendqLocked()
		}
		return err
	}
	e.pipes[p.id] = p
	e.order = append(e.order, p)
	e.npipes.Store(int32(len(e.pipes)))
	e.setSolo()
	e.wg.Add(2)
	e.live.Add(2)
	if e.onAdd != nil {
		e.onAdd(p)
	}
	e.mu.Unlock()
	mp.SetPrivate(p)
	go p.receiver()
	go p.sender()
	return nil
}

// setSolo records the socket's one pipe, if it has exactly one that can
// take a message directly (see solo); call it with e.mu held.
func (e *engine) setSolo() {
	if len(e.order) == 1 && e.order[0].ts != nil && e.sendq != nil {
		e.solo.Store(e.order[0])
		return
	}
	e.solo.Store(nil)
}

// RemovePipe implements mangos.ProtocolBase. The shared send queue loses
// the pipe's place; what it then has no room for is sent first, from the
// backlog, by the next pipe free.
func (e *engine) RemovePipe(mp mangos.ProtocolPipe) {
	p, _ := mp.GetPrivate().(*pipe)
	if p == nil {
		return
	}
	removed := false
	remove := func() {
		if _, ok := e.pipes[p.id]; !ok {
			return
		}
		removed = true
		p.dead.Store(true)
		delete(e.pipes, p.id)
		e.npipes.Store(int32(len(e.pipes)))
		for i, q := range e.order {
			if q == p {
				e.order = append(e.order[:i], e.order[i+1:]...)
				break
			}
		}
		e.setSolo()
		close(p.closeq)
	}
	if e.sendq != nil {
		e.fitSendq(remove)
	} else {
		e.mu.Lock()
		remove()
		e.mu.Unlock()
	}
	if removed && e.onRemove != nil {
		e.onRemove(p)
	}
}

// BeginClose marks the socket as closing (see Socket.BeginClose).
func (e *engine) BeginClose() { e.closing.Store(true) }

// Close implements mangos.ProtocolBase. It closes every pipe and returns
// once their goroutines have exited; further operations fail with
// ErrClosed.
func (e *engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return mangos.ErrClosed
	}
	e.closed = true
	close(e.closeq)
	ps := make([]*pipe, 0, len(e.pipes))
	for _, p := range e.pipes {
		ps = append(ps, p)
	}
	e.mu.Unlock()
	for _, p := range ps {
		_ = p.mp.Close()
	}
	e.waitPipes()
	e.failWaiters(nil)
	e.drain()
	e.ready.close()
	return nil
}

// drain frees messages left in the queues after close.
func (e *engine) drain() {
	e.mu.Lock()
	for _, m := range e.backlog {
		m.Free()
	}
	e.backlog = nil
	e.nbacklog.Store(0)
	e.mu.Unlock()
	for _, q := range []*queue{e.sendq, e.recvq} {
		if q != nil {
			q.drain()
		}
	}
}

func (e *engine) pipeExit() {
	e.live.Add(-1)
	e.wg.Done()
}

// complete gives m to w on a pipe's receiver goroutine. The Completer may
// run user code that closes this very socket, and Close waits for the
// pipes' goroutines: so receivers running one are counted, and Close does
// not wait for them (see waitPipes).
func (e *engine) complete(w *Waiter, m *Message) {
	e.incb.Add(1)
	give(w, m)
	e.incb.Add(-1)
}

// waitPipes returns once the pipes' goroutines have exited, or once the
// only ones left are receivers running a Completer: one of them may be
// the caller, closing the socket from a callback; they exit when their
// callbacks return, as the pipes are closed.
func (e *engine) waitPipes() {
	if e.incb.Load() == 0 {
		e.wg.Wait()
		return
	}
	for e.live.Load() > e.incb.Load() {
		time.Sleep(50 * time.Microsecond)
	}
}

// Counters are a socket's message statistics.
type Counters struct {
	RxMsgs, RxBytes, TxMsgs, TxBytes uint64
	// Drops counts the messages dropped, by reason (see Drop.String for their names).
	Drops [NumDrops]uint64
}

// Counters returns the messages and bytes the socket's pipes have read
// and written, headers included, and the messages dropped.
func (e *engine) Counters() Counters {
	c := Counters{RxMsgs: e.rxMsgs.Load(), RxBytes: e.rxBytes.Load(), TxMsgs: e.txMsgs.Load(), TxBytes: e.txBytes.Load()}
	for i := range c.Drops {
		c.Drops[i] = e.drops[i].Load()
	}
	return c
}

// SetRefuse makes AddPipe ask fn about every new pipe and leave out those
// for which it returns true: AddPipe then returns nil but starts nothing
// and keeps nothing, so mangos takes the pipe as added and the caller must
// close it once AddPipe has returned. fn runs on the goroutine adding the
// pipe, under mangos' lock of that pipe, so a concurrent close of the pipe
// waits for it (closing it from mangos' own attaching hook instead would
// deadlock: mangos' addPipe locks the pipe twice when it finds it
// closing); fn must not close the pipe itself. Set it before any pipe.
func (e *engine) SetRefuse(fn func(mp mangos.ProtocolPipe) bool) { e.refuse.Store(&fn) }

// PipeCounters returns the messages and bytes the live pipe id has read
// and written, headers included (Drops are zero: drops are counted per
// socket); false if no such pipe is live.
func (e *engine) PipeCounters(id uint32) (Counters, bool) {
	p := e.pipe(id)
	if p == nil || p.dead.Load() {
		return Counters{}, false
	}
	return Counters{RxMsgs: p.rxMsgs.Load(), RxBytes: p.rxBytes.Load(), TxMsgs: p.txMsgs.Load(), TxBytes: p.txBytes.Load()}, true
}

// Done is closed when the socket is closed.
func (e *engine) Done() <-chan struct{} { return e.closeq }

// Pipes returns the number of live pipes.
func (e *engine) Pipes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pipes)
}

// Pipe returns the live pipe with id, or nil. A pipe is live here from the
// moment its reader starts, before mangos' Attached hook has run, so a
// caller that just received a message from it always finds it.
func (e *engine) Pipe(id uint32) mangos.ProtocolPipe {
	if p := e.pipe(id); p != nil && !p.dead.Load() {
		return p.mp
	}
	return nil
}

func (e *engine) pipe(id uint32) *pipe {
	e.mu.Lock()
	p := e.pipes[id]
	e.mu.Unlock()
	return p
}

// SendMsg implements mangos.ProtocolBase for callers that use mangos'
// Socket API directly; it blocks like a nanoact send without deadline.
func (e *engine) SendMsg(*Message) error { return mangos.ErrProtoOp }

// RecvMsg implements mangos.ProtocolBase; see SendMsg.
func (e *engine) RecvMsg() (*Message, error) { return nil, mangos.ErrProtoOp }

// OpenContext implements mangos.ProtocolBase. nanoact opens contexts
// through the protocol's own NewContext.
func (e *engine) OpenContext() (mangos.ProtocolContext, error) { return nil, mangos.ErrNoContext }

// GetOption implements mangos.ProtocolBase; options are handled by nanoact.
func (e *engine) GetOption(name string) (any, error) {
	if name == mangos.OptionRaw {
		return e.raw, nil
	}
	return nil, mangos.ErrBadOption
}

// SetOption implements mangos.ProtocolBase; options are handled by nanoact.
func (e *engine) SetOption(string, any) error { return mangos.ErrBadOption }

func (p *pipe) receiver() {
	defer p.e.pipeExit()
	for {
		m := p.mp.RecvMsg()
		if m == nil {
			return
		}
		n := uint64(len(m.Header) + len(m.Body))
		if p.e.onRecv == nil {
			m.Free()
		} else {
			p.e.onRecv(p, m)
		}
		// Counted once handled, so a reader of rx_msgs finds the message
		// already queued.
		// The pipe's first: a reader who sees the socket's count sees
		// the pipe's too.
		p.rxMsgs.Add(1)
		p.rxBytes.Add(n)
		p.e.rxMsgs.Add(1)
		p.e.rxBytes.Add(n)
	}
}

func (p *pipe) sender() {
	defer p.e.pipeExit()
	defer p.dropQueued()
	for {
		m, shared := p.next()
		if m == nil {
			return
		}
		if shared {
			switch p.decide(m) {
			case dropIt:
				continue
			case requeueIt:
				return
			}
		}
		if p.bs == nil {
			if !p.write(m) {
				return
			}
			if !shared && p.ts != nil {
				p.own.Add(-1) // after the write: see direct
			}
			continue
		}
		batch, stop := p.gather(append(p.batch[:0], m))
		ok := p.writeBatch(batch)
		clear(batch) // keep no reference to the messages
		p.batch = batch[:0]
		if !ok || stop {
			return
		}
	}
}

// decide applies the protocol's onSent to m, a message of the shared
// queue this pipe took: a message for any pipe, taken by one being
// removed, goes to another; for req the protocol decides, under its lock,
// so that its failover and this never both send it. A message dropped or
// requeued is no longer this pipe's.
func (p *pipe) decide(m *Message) sending {
	e := p.e
	what := sendIt
	if e.onSent != nil {
		what = e.onSent(p, m)
	} else if p.dead.Load() {
		what = requeueIt
	}
	switch what {
	case dropIt:
		m.Free()
		e.pending.Add(-1)
	case requeueIt:
		e.pending.Add(-1)
		e.requeue(m)
	}
	return what
}

// Write coalescing: a pipe whose transport can write several messages at
// once (transport.BatchSender: tcp, ipc) takes, after the message it
// woke for, what else is queued at that moment, up to maxBatch messages
// and maxBatchBytes, and writes them with one system call. A pipe takes
// more from the shared queue only while it is the socket's one pipe, so
// that it never holds messages another pipe's writer could send.
const (
	maxBatch      = 64
	maxBatchBytes = 256 << 10
)

// gather appends to batch what is queued for p without waiting: its own
// queue's messages, and the shared queue's while p is the only pipe and
// no message waits in the backlog (which goes first). stop reports that a
// message had to be requeued: p is being removed.
func (p *pipe) gather(batch []*Message) (_ []*Message, stop bool) {
	e := p.e
	n := len(batch[0].Header) + len(batch[0].Body)
	for len(batch) < maxBatch && n < maxBatchBytes {
		var g *qgen
		var sq <-chan *Message
		if e.sendq != nil && e.npipes.Load() == 1 && e.nbacklog.Load() == 0 {
			g = e.sendq.enter()
			if e.nbacklog.Load() == 0 { // else a resize spilled meanwhile
				sq = g.ch
			}
		}
		var m *Message
		select {
		case m = <-p.q:
			leaveIf(g)
		case m = <-sq:
			g.leave()
			switch p.decide(m) {
			case dropIt:
				continue
			case requeueIt:
				return batch, true
			}
		default:
			leaveIf(g)
			return batch, false
		}
		batch = append(batch, m)
		n += len(m.Header) + len(m.Body)
	}
	return batch, false
}

// write sends one message; false if the pipe failed (mangos' core then
// closes it).
func (p *pipe) write(m *Message) bool {
	e := p.e
	n := uint64(len(m.Header) + len(m.Body))
	err := p.mp.SendMsg(m)
	e.pending.Add(-1)
	if err != nil {
		return false
	}
	p.txMsgs.Add(1) // the pipe's before the socket's (PipeCounters)
	p.txBytes.Add(n)
	e.txMsgs.Add(1)
	e.txBytes.Add(n)
	return true
}

// writeBatch sends the messages of batch in order, with one write when
// there are several; false if the pipe failed, which it then closes.
func (p *pipe) writeBatch(batch []*Message) bool {
	if len(batch) == 1 {
		return p.write(batch[0])
	}
	e := p.e
	var n uint64
	for _, m := range batch {
		n += uint64(len(m.Header) + len(m.Body))
	}
	err := p.bs.SendBatch(batch)
	e.pending.Add(-int64(len(batch)))
	if err != nil {
		_ = p.mp.Close()
		return false
	}
	p.txMsgs.Add(uint64(len(batch)))
	p.txBytes.Add(n)
	e.txMsgs.Add(uint64(len(batch)))
	e.txBytes.Add(n)
	return true
}

// dropQueued frees what is left in a dead pipe's own queue: it can no
// longer be sent.
func (p *pipe) dropQueued() {
	for {
		select {
		case m := <-p.q:
			m.Free()
			p.e.pending.Add(-1)
			p.unown()
			p.e.dropped(DropPipeGone)
		default:
			return
		}
	}
}

// Flushed reports whether every message queued for sending has been
// written to its connection (or dropped with a connection that died).
func (e *engine) Flushed() bool { return e.pending.Load() <= 0 }

// deliver queues m on the engine's receive queue, waiting while it is
// full (back-pressure on the peer) until the pipe or the socket closes; a
// waiting asynchronous receive gets m directly.
//
// The waiter count is read after m is queued, and a new waiter is counted
// before it looks at the queue: so either this delivery sees the waiter and
// pumps, or the waiter finds m.
func (p *pipe) deliver(m *Message) {
	e := p.e
	if e.nwait.Load() > 0 && e.handOff(m) {
		return
	}
	for {
		g := e.recvq.enter()
		select {
		case g.ch <- m: // the usual case: room in the queue
		default:
			select {
			case g.ch <- m:
			case <-g.gone:
				g.leave()
				continue // resized: queue on the new one
			case <-p.closeq:
				g.leave()
				m.Free()
				e.dropped(DropPipeGone)
				return
			case <-e.closeq:
				g.leave()
				m.Free()
				return
			}
		}
		g.leave()
		break
	}
	e.ready.notify()
	if e.nwait.Load() > 0 {
		e.pump()
	}
}

// put queues m on the shared send queue, honouring ctx's blocking mode.
func (e *engine) put(ctx context.Context, m *Message, op string) error {
	return e.putUntil(ctx, m, nil, nil, op)
}

// putUntil is put that also gives up, with cancelErr, once cancel is
// closed (a staged request replaced by a newer one).
func (e *engine) putUntil(ctx context.Context, m *Message, cancel <-chan struct{}, cancelErr error, op string) error {
	if p := e.solo.Load(); p != nil && e.onSent == nil && e.pending.Load() == 0 && e.nbacklog.Load() == 0 && p.direct(m) {
		return nil
	}
	if e.offer(m) {
		return nil
	}
	select {
	case <-e.closeq:
		return errClosed
	default:
	}
	if IsNonBlock(ctx) {
		return waitErr(ctx, op)
	}
	for {
		g := e.sendq.enter()
		e.pending.Add(1) // before the message is visible: see pipe.direct
		select {
		case g.ch <- m:
			g.leave()
			return nil
		case <-g.gone: // resized: wait on the new queue
		case <-cancel:
			g.leave()
			e.pending.Add(-1)
			return cancelErr
		case <-e.closeq:
			g.leave()
			e.pending.Add(-1)
			return errClosed
		case <-ctx.Done():
			g.leave()
			e.pending.Add(-1)
			return waitErr(ctx, op)
		}
		g.leave()
		e.pending.Add(-1)
	}
}

// get takes the next message from q, honouring ctx's blocking mode. stop,
// when non-nil and closed, ends the wait with ErrClosed (a closed context).
func (e *engine) get(ctx context.Context, q *queue, stop <-chan struct{}, op string) (*Message, error) {
	g := q.enter()
	select {
	case m := <-g.ch:
		g.leave()
		e.ready.notify()
		return m, nil
	default:
	}
	g.leave()
	select {
	case <-e.closeq:
		return nil, errClosed
	case <-stop:
		return nil, errClosed
	default:
	}
	if IsNonBlock(ctx) {
		return nil, waitErr(ctx, op)
	}
	for {
		g = q.enter()
		select {
		case m := <-g.ch:
			g.leave()
			e.ready.notify()
			return m, nil
		case <-g.gone: // resized: wait on the new queue
			g.leave()
		case <-e.closeq:
			g.leave()
			return nil, errClosed
		case <-stop:
			g.leave()
			return nil, errClosed
		case <-ctx.Done():
			g.leave()
			return nil, waitErr(ctx, op)
		}
	}
}

// broadcast queues m on every pipe except the one numbered except (if
// non-zero), best effort as NNG's pub, bus and surveyor: for a pipe whose
// queue is full, oldest drops that pipe's oldest queued message to make
// room (pub, DropPubFull), otherwise m is not queued for it
// (DropSendFull). It consumes m.
func (e *engine) broadcast(m *Message, except uint32, oldest bool) {
	e.mu.Lock()
	for _, p := range e.order {
		if p.id == except {
			continue
		}
		m.Clone()
		if !p.push(m, oldest) {
			m.Free()
			e.dropped(DropSendFull)
		}
	}
	e.mu.Unlock()
	m.Free()
}

// push queues m on p's own queue without waiting; when the queue is full
// and oldest is set, the oldest message queued makes room. Producers for
// p.q hold e.mu, so room made stays free.
func (p *pipe) push(m *Message, oldest bool) bool {
	for {
		p.e.pending.Add(1) // before the message is visible: see direct
		p.owned()
		select {
		case p.q <- m:
			return true
		default:
			p.e.pending.Add(-1)
			p.unown()
		}
		if !oldest {
			return false
		}
		select {
		case old := <-p.q:
			old.Free()
			p.e.pending.Add(-1)
			p.unown()
			p.e.dropped(DropPubFull)
		default: // the writer took one meanwhile
		}
	}
}

// sendTo queues m for pipe id, honouring ctx's blocking mode; a message for
// a pipe that is gone is dropped and the send succeeds, as in NNG.
func (e *engine) sendTo(ctx context.Context, id uint32, m *Message, op string) error {
	p := e.pipe(id)
	if p == nil {
		m.Free()
		e.dropped(DropPipeGone)
		return nil
	}
	if p.ts != nil && p.own.Load() == 0 && p.direct(m) {
		return nil
	}
	// Counted before the message is visible to the writer, so that
	// neither count is ever low while it waits (see direct).
	e.pending.Add(1)
	p.owned()
	select {
	case p.q <- m:
		return nil
	default:
	}
	if IsNonBlock(ctx) {
		e.pending.Add(-1)
		p.unown()
		return waitErr(ctx, op)
	}
	select {
	case p.q <- m:
		return nil
	case <-p.closeq:
		e.pending.Add(-1)
		p.unown()
		m.Free()
		e.dropped(DropPipeGone)
		return nil
	case <-e.closeq:
		e.pending.Add(-1)
		p.unown()
		return errClosed
	case <-ctx.Done():
		e.pending.Add(-1)
		p.unown()
		return waitErr(ctx, op)
	}
}

// owned and unown count a message put on (taken off) p.q, for direct.
func (p *pipe) owned() {
	if p.ts != nil {
		p.own.Add(1)
	}
}

func (p *pipe) unown() {
	if p.ts != nil {
		p.own.Add(-1)
	}
}

// direct hands m straight to the peer's receiver when it is waiting
// (an inproc pipe's TrySend), saving the hop through p's writer
// goroutine, and reports whether it did; m is then written and counted.
// Callers make sure no message queued before m for this pipe is still
// unwritten: p.own is zero for a send to p alone, the socket's pending
// count for a send on the shared queue. Both are counted before a
// message becomes visible on its queue and uncounted only once it is
// written or dropped, so a message put in the queue by the same
// goroutine earlier is always seen. Concurrent senders have no order
// between them, queued or direct.
func (p *pipe) direct(m *Message) bool {
	if p.dead.Load() {
		return false
	}
	n := uint64(len(m.Header) + len(m.Body))
	if !p.ts.TrySend(m) {
		return false
	}
	p.txMsgs.Add(1) // the pipe's before the socket's (PipeCounters)
	p.txBytes.Add(n)
	p.e.txMsgs.Add(1)
	p.e.txBytes.Add(n)
	return true
}

// takeWord removes the 4-byte big-endian word at the front of a received
// message (a request or survey id, a backtrace hop, a hop count) and
// returns it. nanoact's transports deliver that word in m.Header when
// asked to (see transport's OptionSplitWord); otherwise, and on mangos'
// transports, it is at the front of m.Body. A message too short for one is freed, and takeWord reports
// false.
func takeWord(m *Message) (uint32, bool) {
	switch {
	case len(m.Header) == 4:
		w := binary.BigEndian.Uint32(m.Header)
		m.Header = m.Header[:0]
		return w, true
	case len(m.Header) == 0 && len(m.Body) >= 4:
		w := binary.BigEndian.Uint32(m.Body)
		m.Body = m.Body[4:]
		return w, true
	}
	m.Free()
	return 0, false
}

// pipeHeader returns a 4-byte big-endian header holding id.
func putID(b []byte, id uint32) []byte {
	return binary.BigEndian.AppendUint32(b, id)
}

// splitBacktrace moves the SP backtrace (4-byte hops up to and including
// the one with the high bit set) from the front of the message to m.Header,
// after the pipe id pid when withPID (raw rep and respondent show it). The
// first hop may arrive in m.Header (see takeWord). It reports false, having
// freed m, for a garbled message or one over ttl hops.
func splitBacktrace(m *Message, pid uint32, withPID bool, ttl int) bool {
	hop, ok := takeWord(m)
	if !ok {
		return false
	}
	m.Header = m.Header[:0]
	if withPID {
		m.Header = putID(m.Header, pid)
	}
	for hops := 1; ; hops++ {
		m.Header = putID(m.Header, hop)
		if hop&0x80000000 != 0 {
			return true
		}
		if hops == ttl || len(m.Body) < 4 {
			m.Free()
			return false
		}
		hop = binary.BigEndian.Uint32(m.Body)
		m.Body = m.Body[4:]
	}
}
