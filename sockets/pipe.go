package sockets

import (
	"net"
	"slices"
	"sync"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/proto"
	"github.com/nanoact/nanoact/internal/transport"
)

// PipeEvent says that a connection was added to or removed from a socket.
type PipeEvent struct {
	// Pipe is the connection's id, as carried by Msg.Pipe.
	Pipe uint32
	// Added is true for a new connection, false for one that went away.
	Added bool
}

// pipeTracker follows mangos' pipe hook: which pipes are live, which
// endpoint each belongs to, and when the last one is gone.
//
// mangos runs the Attached hook synchronously but the Detached hook on a
// goroutine of its own, which can even run before Attached for a pipe that
// closes at once; the tracker copes with both orders (such a pipe is
// reported arriving, then leaving, when its Attached comes). That goroutine can
// also run after a dialer has redialled and attached its next pipe: since
// a dialer has one connection at a time, the tracker then reports the old
// pipe's removal itself, before the new one's arrival, so that watchers
// see a dialer's connections in the order they happened (NNG's), and
// ignores mangos' late Detached for it.
type pipeTracker struct {
	s *Socket

	// order is held from a hook's change of live to its event's send,
	// so that events reach the socket actor in the order of the changes.
	order sync.Mutex
	mu    sync.Mutex
	live  map[uint32]mangos.Pipe
	early map[uint32]struct{} // detached before attached
	// stale are the pipes reported removed on their dialer's next
	// attach, whose own Detached hook has not run yet.
	stale map[uint32]struct{}
	idle  chan struct{} // closed when live becomes empty; nil otherwise

	watchers []*pipeWatcher // read and written on the socket actor only; replaced, never modified
	queue    watchQueue
}

func newPipeTracker(s *Socket) *pipeTracker {
	return &pipeTracker{s: s, live: make(map[uint32]mangos.Pipe), early: make(map[uint32]struct{}), stale: make(map[uint32]struct{}), queue: watchQueue{log: s.log}}
}

func (t *pipeTracker) hook(ev mangos.PipeEvent, p mangos.Pipe) {
	id := p.ID()
	switch ev {
	case mangos.PipeEventAttached:
		if t.s.vetoes.attached(p) {
			return
		}
		t.order.Lock()
		t.mu.Lock()
		var prev mangos.Pipe // the dialer's previous pipe, closed
		if md := p.Dialer(); md != nil {
			for qid, q := range t.live {
				if q.Dialer() == md {
					prev = q
					delete(t.live, qid)
					t.stale[qid] = struct{}{}
					break
				}
			}
		}
		// A pipe whose Detached came first (closed at once, for a peer
		// that sent something over a receive gate) is reported too,
		// arriving then leaving, as NNG reports a pipe's removal whenever
		// its addition began; it is never live.
		_, early := t.early[id]
		if early {
			delete(t.early, id)
			t.maybeIdle()
		} else {
			t.live[id] = p
		}
		t.mu.Unlock()
		var prevEP *endpoint
		if prev != nil {
			prevEP = t.removed(prev)
		}
		var ep *endpoint
		t.endpointOf(p, func(e *endpoint) { e.addPipe(id); ep = e })
		t.s.ref.Send(PipeEvent{Pipe: id, Added: true})
		if early {
			t.removed(p)
		}
		t.order.Unlock()
		if prev != nil {
			t.logPipe(prev, prevEP, false)
		}
		if !early { // an early one was logged as closed by its Detached
			t.logPipe(p, ep, true)
		}
	case mangos.PipeEventDetached:
		if t.s.vetoes.detached(id) {
			return
		}
		t.order.Lock()
		t.mu.Lock()
		if _, ok := t.stale[id]; ok {
			delete(t.stale, id) // reported on its dialer's next attach
			t.mu.Unlock()
			t.order.Unlock()
			return
		}
		if _, ok := t.live[id]; !ok {
			t.early[id] = struct{}{} // reported when Attached comes
			t.mu.Unlock()
			t.order.Unlock()
			t.logPipe(p, nil, false) // closed before it was registered
			return
		}
		delete(t.live, id)
		t.maybeIdle()
		t.mu.Unlock()
		ep := t.removed(p)
		t.order.Unlock()
		t.logPipe(p, ep, false)
	}
}

// removed reports live pipe p gone, once the tracker has forgotten it;
// call with order held. It returns p's endpoint, if known, for the log.
func (t *pipeTracker) removed(p mangos.Pipe) *endpoint {
	id := p.ID()
	var ep *endpoint
	t.endpointOf(p, func(e *endpoint) { e.removePipe(id); ep = e })
	t.s.ref.Send(PipeEvent{Pipe: id, Added: false})
	return ep
}

// logPipe logs a connection's arrival or departure, once, with its peer's
// address: at Info for a dialer's connection while the dialer lives
// ("connected", "connection lost; redialing": the operator's view of a
// client), at Debug for a listener's (one line per peer of a server is
// per-pipe lifecycle) and for connections closed with their socket or
// dialer. ep is the endpoint that made p, nil if unknown.
func (t *pipeTracker) logPipe(p mangos.Pipe, ep *endpoint, added bool) {
	dialed := p.Dialer() != nil
	lvl := zap.DebugLevel
	if dialed && !t.s.isClosed() && (ep == nil || ep.State() != Closed) {
		lvl = zap.InfoLevel
	}
	var msg string
	switch {
	case added && dialed:
		msg = "connected"
	case added:
		msg = "connection accepted"
	case lvl == zap.InfoLevel:
		msg = "connection lost; redialing"
	default:
		msg = "connection closed"
	}
	ce := t.s.log.Check(lvl, msg)
	if ce == nil {
		return
	}
	url, remote := "", ""
	if ep != nil {
		url = ep.URL()
	}
	if a, err := p.GetOption(mangos.OptionRemoteAddr); err == nil {
		if na, ok := a.(net.Addr); ok && na != nil {
			remote = na.String()
		}
	}
	ce.Write(zap.Uint32("pipe", p.ID()), zap.String("url", url), zap.String("remote", remote))
}

// maybeIdle closes idle when nothing is live. Call with t.mu held.
func (t *pipeTracker) maybeIdle() {
	if len(t.live) == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// wait blocks until every attached pipe has been detached. Call after the
// engine has closed every pipe.
func (t *pipeTracker) wait() {
	t.mu.Lock()
	if len(t.live) == 0 {
		t.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	t.idle = ch
	t.mu.Unlock()
	<-ch
}

// endpointOf calls fn with the dialer or listener that made p, if known.
func (t *pipeTracker) endpointOf(p mangos.Pipe, fn func(*endpoint)) {
	switch d, l := t.s.ownerOf(p); {
	case d != nil:
		fn(&d.endpoint)
	case l != nil:
		fn(&l.endpoint)
	}
}

// ownerOf returns the dialer or the listener that made p; both nil if
// neither is known (any more).
func (s *Socket) ownerOf(p mangos.Pipe) (*Dialer, *Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if md := p.Dialer(); md != nil {
		for _, d := range s.dialers {
			if d.md == md {
				return d, nil
			}
		}
	}
	if ml := p.Listener(); ml != nil {
		for _, l := range s.listeners {
			if l.ml == ml {
				return nil, l
			}
		}
	}
	return nil, nil
}

// livePipe is what a caller may do with a pipe it looked up by id.
type livePipe interface {
	GetOption(name string) (any, error)
	Close() error
}

// lookup returns the pipe with id: from the tracker, or else from the
// protocol engine, which has it from the moment its reader starts, before
// mangos' Attached hook has told the tracker (so a caller holding a
// message from the pipe always finds it). nil if neither has it.
func (t *pipeTracker) lookup(id uint32, eng proto.Socket) livePipe {
	t.mu.Lock()
	p := t.live[id]
	t.mu.Unlock()
	if p != nil {
		return p
	}
	if lp, ok := eng.Pipe(id).(livePipe); ok { // mangos' core pipe is both
		return lp
	}
	return nil
}

// close closes one pipe by id, reporting whether it was live.
func (t *pipeTracker) close(id uint32) bool {
	p := t.lookup(id, t.s.eng)
	if p == nil {
		return false
	}
	_ = p.Close()
	return true
}

// publish runs on the socket actor for each pipe event, in the order the
// events happened: it queues it for the watchers registered now (the
// tracker's hook has logged it). The watchers run on the watch queue's goroutine, never
// on the actor, so that a callback that blocks or closes the socket
// cannot hold up the control plane.
func (t *pipeTracker) publish(ev PipeEvent) {
	if len(t.watchers) > 0 {
		t.queue.push(watchItem{ev: ev, ws: t.watchers})
	}
}

// watchGrace bounds how long Close, and a WatchPipes stop function, wait
// for a pipe watcher that is still running: a callback that blocks (or
// that calls Close or stop itself) cannot hang them for ever.
const watchGrace = 100 * time.Millisecond

// pipeWatcher is one WatchPipes registration.
type pipeWatcher struct {
	fn func(PipeEvent)

	mu      sync.Mutex
	stopped bool
	running chan struct{} // non-nil while fn runs; closed when it returns
}

// call runs the watcher unless it is stopped, turning a panic into a
// logged error so that one faulty watcher cannot stop the others.
func (w *pipeWatcher) call(ev PipeEvent, log *zap.Logger) {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	w.running = ch
	w.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			log.Error("pipe watcher panicked", zap.Any("panic", r), zap.Uint32("pipe", ev.Pipe), zap.Stack("stack"))
		}
		w.mu.Lock()
		w.running = nil
		w.mu.Unlock()
		close(ch)
	}()
	w.fn(ev)
}

// stop stops the watcher: no call starts after it, and it waits up to
// watchGrace for a call in progress.
func (w *pipeWatcher) stop() {
	w.mu.Lock()
	w.stopped = true
	ch := w.running
	w.mu.Unlock()
	waitGrace(ch)
}

// waitGrace waits until ch is closed, for at most watchGrace; a nil ch
// returns at once.
func waitGrace(ch <-chan struct{}) {
	if ch == nil {
		return
	}
	t := time.NewTimer(watchGrace)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// watchItem is one event for the watchers registered when it happened.
type watchItem struct {
	ev PipeEvent
	ws []*pipeWatcher // never modified: the tracker replaces its slice
}

// watchQueue delivers pipe events to watchers, in order, on a goroutine
// that runs only while events are queued (none while idle). It is owned by
// the socket: Close closes it.
type watchQueue struct {
	log *zap.Logger

	mu     sync.Mutex
	items  []watchItem
	closed bool
	busy   chan struct{} // non-nil while the goroutine runs; closed when it exits
}

// push queues it and starts the delivery goroutine if it is not running.
// Events pushed after close are dropped.
func (q *watchQueue) push(it watchItem) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.items = append(q.items, it)
	if q.busy == nil {
		busy := make(chan struct{})
		q.busy = busy
		go q.run(busy)
	}
}

// run delivers queued events until the queue is empty or closed.
func (q *watchQueue) run(busy chan struct{}) {
	defer close(busy)
	for {
		q.mu.Lock()
		if q.closed || len(q.items) == 0 {
			q.busy = nil
			q.items = nil
			q.mu.Unlock()
			return
		}
		it := q.items[0]
		q.items[0] = watchItem{}
		q.items = q.items[1:]
		q.mu.Unlock()
		for _, w := range it.ws {
			if q.isClosed() {
				break
			}
			w.call(it.ev, q.log)
		}
	}
}

func (q *watchQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// close drops queued events and waits, for at most watchGrace, for the
// delivery goroutine to exit: a callback still running past that (one
// that blocks, or one that called Close) ends on its own, and the
// goroutine exits as soon as it returns.
func (q *watchQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	busy := q.busy
	q.mu.Unlock()
	waitGrace(busy)
}

// WatchPipes calls fn for every connection added to or removed from the
// socket from now on, in the order they happen, one call at a time, on a
// goroutine of the socket's that runs only while events wait (not on the
// socket's actor, so fn may call any method of the socket, Close
// included). Connections already up are reported first as added. fn
// should return promptly: events queue behind it, and Close and the stop
// function wait for a running call for at most 100 ms before they return
// (the call then finishes on its own; no goroutine outlives it). Once the
// socket is closed, no further call starts.
//
// The returned stop function unregisters fn: no call starts after it, and
// it waits (up to 100 ms, as Close) for a call in progress. It is
// idempotent. This is the hook aio's PipeNotify and Monitor use.
//
// Errors: ErrClosed on a closed socket.
func (s *Socket) WatchPipes(fn func(PipeEvent)) (stop func(), err error) {
	w := &pipeWatcher{fn: fn}
	err = s.control("sockets: watch pipes", func() error {
		if s.isClosed() {
			return &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: watch pipes"}
		}
		s.pipes.mu.Lock()
		ids := make([]uint32, 0, len(s.pipes.live))
		for id := range s.pipes.live {
			ids = append(ids, id)
		}
		s.pipes.mu.Unlock()
		only := []*pipeWatcher{w}
		for _, id := range ids {
			s.pipes.queue.push(watchItem{ev: PipeEvent{Pipe: id, Added: true}, ws: only})
		}
		// A new slice: queued items keep the one they were given.
		s.pipes.watchers = append(slices.Clip(s.pipes.watchers), w)
		return nil
	})
	if err != nil {
		return func() {}, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			w.stop()
			_ = s.control("sockets: unwatch pipes", func() error {
				s.pipes.watchers = slices.DeleteFunc(slices.Clone(s.pipes.watchers), func(x *pipeWatcher) bool { return x == w })
				return nil
			})
		})
	}, nil
}

// OpenRecvGate lifts the receive gate (WithRecvGate) of connection pipe,
// so that its messages are limited by recv-size-max alone from the next
// one whose length it reads. It does not block. Errors: ErrNotFound if
// pipe is not a live connection of the socket, ErrNotSupported if its
// transport has no gate (inproc).
func (s *Socket) OpenRecvGate(pipe uint32) error {
	p := s.pipes.lookup(pipe, s.eng)
	if p == nil {
		return &nanoact.Error{Code: nanoact.CodeNotFound, Op: "sockets: open recv gate"}
	}
	v, err := p.GetOption(transport.OptionRecvGate)
	g, ok := v.(transport.RecvGate)
	if err != nil || !ok {
		return &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: open recv gate"}
	}
	g.Open()
	return nil
}
