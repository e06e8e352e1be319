package sockets

import (
	"sync"

	"go.nanomsg.org/mangos/v3"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
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
// closes at once; the tracker copes with both orders.
type pipeTracker struct {
	s *Socket

	mu    sync.Mutex
	live  map[uint32]mangos.Pipe
	early map[uint32]struct{} // detached before attached
	idle  chan struct{}       // closed when live becomes empty; nil otherwise

	watchers []*pipeWatcher // read and written on the socket actor only
}

type pipeWatcher struct{ fn func(PipeEvent) }

func newPipeTracker(s *Socket) *pipeTracker {
	return &pipeTracker{s: s, live: make(map[uint32]mangos.Pipe), early: make(map[uint32]struct{})}
}

func (t *pipeTracker) hook(ev mangos.PipeEvent, p mangos.Pipe) {
	id := p.ID()
	switch ev {
	case mangos.PipeEventAttached:
		t.mu.Lock()
		if _, ok := t.early[id]; ok {
			delete(t.early, id)
			t.mu.Unlock()
			return
		}
		t.live[id] = p
		t.mu.Unlock()
		t.endpointOf(p, func(e *endpoint) { e.addPipe(id) })
		t.s.ref.Send(PipeEvent{Pipe: id, Added: true})
	case mangos.PipeEventDetached:
		t.mu.Lock()
		if _, ok := t.live[id]; !ok {
			t.early[id] = struct{}{}
			t.mu.Unlock()
			return
		}
		delete(t.live, id)
		t.maybeIdle()
		t.mu.Unlock()
		t.endpointOf(p, func(e *endpoint) { e.removePipe(id) })
		t.s.ref.Send(PipeEvent{Pipe: id, Added: false})
	}
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
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if md := p.Dialer(); md != nil {
		for _, d := range s.dialers {
			if d.md == md {
				fn(&d.endpoint)
				return
			}
		}
	}
	if ml := p.Listener(); ml != nil {
		for _, l := range s.listeners {
			if l.ml == ml {
				fn(&l.endpoint)
				return
			}
		}
	}
}

// close closes one pipe by id, reporting whether it was live.
func (t *pipeTracker) close(id uint32) bool {
	t.mu.Lock()
	p := t.live[id]
	t.mu.Unlock()
	if p == nil {
		return false
	}
	_ = p.Close()
	return true
}

// publish runs on the socket actor for each pipe event, in the order the
// events happened: it logs the event and calls every watcher.
func (t *pipeTracker) publish(ev PipeEvent) {
	if ce := t.s.log.Check(zap.DebugLevel, "pipe event"); ce != nil {
		ce.Write(zap.Uint32("pipe", ev.Pipe), zap.Bool("added", ev.Added))
	}
	for _, w := range t.watchers {
		t.call(w, ev)
	}
}

// call runs one watcher, turning a panic into a logged error so that one
// faulty watcher cannot stop the socket's actor.
func (t *pipeTracker) call(w *pipeWatcher, ev PipeEvent) {
	defer func() {
		if r := recover(); r != nil {
			t.s.log.Error("pipe watcher panicked", zap.Any("panic", r), zap.Uint32("pipe", ev.Pipe), zap.Stack("stack"))
		}
	}()
	w.fn(ev)
}

// WatchPipes calls fn for every connection added to or removed from the
// socket from now on, in the order they happen, on the socket's actor (one
// call at a time; fn must not block, and must not call the socket's
// Dial, Listen, Close or WatchPipes). Connections already up are reported
// first as added. The returned stop function unregisters fn and waits until
// no call of it is running; it is idempotent. This is the hook aio's
// PipeNotify and Monitor use.
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
		for _, id := range ids {
			s.pipes.call(w, PipeEvent{Pipe: id, Added: true})
		}
		s.pipes.watchers = append(s.pipes.watchers, w)
		return nil
	})
	if err != nil {
		return func() {}, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = s.control("sockets: unwatch pipes", func() error {
				ws := s.pipes.watchers
				for i, x := range ws {
					if x == w {
						s.pipes.watchers = append(ws[:i:i], ws[i+1:]...)
						break
					}
				}
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
	s.pipes.mu.Lock()
	p := s.pipes.live[pipe]
	s.pipes.mu.Unlock()
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
