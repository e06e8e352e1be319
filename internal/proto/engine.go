package proto

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
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
	closeq chan struct{}
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
	order  []*pipe // for round-robin scans
	closed bool
	closeq chan struct{}
	wg     sync.WaitGroup

	// live counts the pipes' goroutines, incb the receivers among them
	// that are running a Completer (see complete and waitPipes).
	live, incb atomic.Int32

	// sendq is the shared, load-balanced send queue; nil for protocols
	// that only send to chosen pipes.
	sendq chan *Message
	// recvq is the socket-wide receive queue; nil for send-only protocols.
	recvq chan *Message
	// onRecv handles one message read from p; nil drops it (send-only
	// protocols still read, to notice the peer closing).
	onRecv func(p *pipe, m *Message)
	// onAdd and onRemove let a protocol track pipes (may be nil); onRemove
	// runs without e.mu held.
	onAdd    func(p *pipe)
	onRemove func(p *pipe)
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
	// queue, just before it is written.
	onSent func(p *pipe, m *Message)
}

// Buffered is implemented by protocols whose queue depths can be set.
type Buffered interface {
	// SetBuffer sets the depth of the send (send true) or receive queue.
	// Call it before the socket has any pipe.
	SetBuffer(send bool, n int) error
	// Buffer returns a queue's depth.
	Buffer(send bool) (int, error)
}

// SetBuffer implements Buffered for the engine's shared queues.
func (e *engine) SetBuffer(send bool, n int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := &e.recvq
	if send {
		q = &e.sendq
	}
	if *q == nil {
		return errNotSupported
	}
	if len(e.pipes) > 0 {
		return nanoact.ErrBusy
	}
	*q = make(chan *Message, n)
	return nil
}

// Buffer implements Buffered.
func (e *engine) Buffer(send bool) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.recvq
	if send {
		q = e.sendq
	}
	if q == nil {
		return 0, errNotSupported
	}
	return cap(q), nil
}

func newEngine(info mangos.ProtocolInfo, raw bool, sendBuf int, recv bool) *engine {
	e := &engine{
		info:   info,
		raw:    raw,
		pipes:  make(map[uint32]*pipe),
		closeq: make(chan struct{}),
	}
	if sendBuf >= 0 {
		e.sendq = make(chan *Message, sendBuf)
	}
	if recv {
		e.recvq = make(chan *Message, defaultRecvBuffer)
	}
	e.ready.waiting = func() int { return len(e.recvq) }
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
// sender goroutines. A pair socket refuses a second pipe.
func (e *engine) AddPipe(mp mangos.ProtocolPipe) error {
	p := &pipe{e: e, mp: mp, id: mp.ID(), q: make(chan *Message, pipeQueueLen), closeq: make(chan struct{})}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return mangos.ErrClosed
	}
	if e.maxPipes > 0 && len(e.pipes) >= e.maxPipes {
		e.mu.Unlock()
		return mangos.ErrProtoState
	}
	e.pipes[p.id] = p
	e.order = append(e.order, p)
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

// RemovePipe implements mangos.ProtocolBase.
func (e *engine) RemovePipe(mp mangos.ProtocolPipe) {
	p, _ := mp.GetPrivate().(*pipe)
	if p == nil {
		return
	}
	e.mu.Lock()
	if _, ok := e.pipes[p.id]; ok {
		delete(e.pipes, p.id)
		for i, q := range e.order {
			if q == p {
				e.order = append(e.order[:i], e.order[i+1:]...)
				break
			}
		}
		close(p.closeq)
		e.mu.Unlock()
		if e.onRemove != nil {
			e.onRemove(p)
		}
		return
	}
	e.mu.Unlock()
}

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
	for _, q := range []chan *Message{e.sendq, e.recvq} {
		if q == nil {
			continue
		}
		for {
			select {
			case m := <-q:
				m.Free()
				continue
			default:
			}
			break
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
}

// Counters returns the messages and bytes the socket's pipes have read
// and written, headers included.
func (e *engine) Counters() Counters {
	return Counters{e.rxMsgs.Load(), e.rxBytes.Load(), e.txMsgs.Load(), e.txBytes.Load()}
}

// Done is closed when the socket is closed.
func (e *engine) Done() <-chan struct{} { return e.closeq }

// Pipes returns the number of live pipes.
func (e *engine) Pipes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pipes)
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
		p.e.rxMsgs.Add(1)
		p.e.rxBytes.Add(n)
	}
}

func (p *pipe) sender() {
	defer p.e.pipeExit()
	defer p.dropQueued()
	sq := p.e.sendq
	for {
		var m *Message
		select {
		case m = <-p.q:
		case m = <-sq:
			if p.e.onSent != nil {
				p.e.onSent(p, m)
			}
		case <-p.closeq:
			return
		}
		n := uint64(len(m.Header) + len(m.Body))
		err := p.mp.SendMsg(m)
		p.e.pending.Add(-1)
		if err != nil {
			return
		}
		p.e.txMsgs.Add(1)
		p.e.txBytes.Add(n)
	}
}

// dropQueued frees what is left in a dead pipe's own queue: it can no
// longer be sent.
func (p *pipe) dropQueued() {
	for {
		select {
		case m := <-p.q:
			m.Free()
			p.e.pending.Add(-1)
		default:
			return
		}
	}
}

// Flushed reports whether every message queued for sending has been
// written to its connection (or dropped with a connection that died).
func (e *engine) Flushed() bool { return e.pending.Load() <= 0 }

// deliver queues m on q, waiting while q is full (back-pressure on the
// peer) until the pipe or the socket closes. On the engine's queue, a
// waiting asynchronous receive gets m directly.
//
// The waiter count is read after m is queued, and a new waiter is counted
// before it looks at the queue: so either this delivery sees the waiter and
// pumps, or the waiter finds m.
func (p *pipe) deliver(q chan *Message, m *Message) {
	e := p.e
	own := q == e.recvq
	if own && e.nwait.Load() > 0 && e.handOff(m) {
		return
	}
	select {
	case q <- m: // the usual case: room in the queue
		e.ready.notify()
	default:
		select {
		case q <- m:
			e.ready.notify()
		case <-p.closeq:
			m.Free()
			return
		case <-e.closeq:
			m.Free()
			return
		}
	}
	if own && e.nwait.Load() > 0 {
		e.pump()
	}
}

// put queues m on q for send, honouring ctx's blocking mode.
func (e *engine) put(ctx context.Context, q chan *Message, m *Message, op string) error {
	select {
	case q <- m:
		e.pending.Add(1)
		return nil
	default:
	}
	select {
	case <-e.closeq:
		return errClosed
	default:
	}
	if IsNonBlock(ctx) {
		return waitErr(ctx, op)
	}
	select {
	case q <- m:
		e.pending.Add(1)
		return nil
	case <-e.closeq:
		return errClosed
	case <-ctx.Done():
		return waitErr(ctx, op)
	}
}

// get takes the next message from q, honouring ctx's blocking mode. stop,
// when non-nil and closed, ends the wait with ErrClosed (a closed context).
func (e *engine) get(ctx context.Context, q chan *Message, stop <-chan struct{}, op string) (*Message, error) {
	select {
	case m := <-q:
		e.ready.notify()
		return m, nil
	default:
	}
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
	select {
	case m := <-q:
		e.ready.notify()
		return m, nil
	case <-e.closeq:
		return nil, errClosed
	case <-stop:
		return nil, errClosed
	case <-ctx.Done():
		return nil, waitErr(ctx, op)
	}
}

// broadcast queues m on every pipe that has room, dropping it for pipes
// that are full (best effort, as NNG's pub and bus). except, if non-zero,
// is skipped. It consumes m.
func (e *engine) broadcast(m *Message, except uint32) {
	e.mu.Lock()
	for _, p := range e.order {
		if p.id == except {
			continue
		}
		m.Clone()
		select {
		case p.q <- m:
			e.pending.Add(1)
		default:
			m.Free()
		}
	}
	e.mu.Unlock()
	m.Free()
}

// sendTo queues m for pipe id, honouring ctx's blocking mode; a message for
// a pipe that is gone is dropped and the send succeeds, as in NNG.
func (e *engine) sendTo(ctx context.Context, id uint32, m *Message, op string) error {
	p := e.pipe(id)
	if p == nil {
		m.Free()
		return nil
	}
	select {
	case p.q <- m:
		e.pending.Add(1)
		return nil
	default:
	}
	if IsNonBlock(ctx) {
		return waitErr(ctx, op)
	}
	select {
	case p.q <- m:
		e.pending.Add(1)
		return nil
	case <-p.closeq:
		m.Free()
		return nil
	case <-e.closeq:
		return errClosed
	case <-ctx.Done():
		return waitErr(ctx, op)
	}
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
