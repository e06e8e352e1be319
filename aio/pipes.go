package aio

import (
	"slices"
	"sync"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// PipeEvents selects what PipeNotify reports; combine with |.
type PipeEvents uint8

const (
	// PipeAdd signals for each connection added to the socket (NNG's
	// NNG_PIPE_EV_ADD_POST: the pipe is attached and usable).
	PipeAdd PipeEvents = 1 << iota
	// PipeRemove signals for each connection removed (NNG_PIPE_EV_REM_POST).
	PipeRemove
	// PipeFlag arms the CV's flag: the first event raises it, and Wait on
	// the CV then returns false (nanonext's flag = TRUE). Without it, the
	// registration clears the flag, as nanonext's does.
	PipeFlag
)

// pipeWatch follows one socket's connections for PipeNotify and Monitor.
// It keeps the set of live pipe ids, so that each pipe gives at most one
// add and one remove, and when the socket closes it reports the pipes still
// live as removed, whether or not the socket's own events got through. It
// owns one goroutine, which waits for the socket's close or for stop.
type pipeWatch struct {
	emit func(id uint32, added bool) // called with mu held, in event order

	mu     sync.Mutex
	live   map[uint32]struct{}
	closed bool

	unwatch func()
	quit    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

func watchPipes(s *sockets.Socket, op string, emit func(id uint32, added bool)) (*pipeWatch, error) {
	if s == nil {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "nil socket")
	}
	w := &pipeWatch{emit: emit, live: make(map[uint32]struct{}), quit: make(chan struct{})}
	unwatch, err := s.WatchPipes(w.event)
	if err != nil {
		return nil, err
	}
	w.unwatch = unwatch
	w.wg.Go(func() {
		select {
		case <-s.Done():
			w.socketClosed()
		case <-w.quit:
		}
	})
	return w, nil
}

// event is the socket's WatchPipes callback; it runs on the socket's watch goroutine.
func (w *pipeWatch) event(ev sockets.PipeEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	_, known := w.live[ev.Pipe]
	switch {
	case ev.Added && !known:
		w.live[ev.Pipe] = struct{}{}
	case !ev.Added && known:
		delete(w.live, ev.Pipe)
	default:
		return // a duplicate
	}
	w.emit(ev.Pipe, ev.Added)
}

// socketClosed reports every pipe still live as removed, in id order, and
// ignores all later events.
func (w *pipeWatch) socketClosed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	ids := make([]uint32, 0, len(w.live))
	for id := range w.live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		w.emit(id, false)
	}
	w.live = nil
}

// stop ends the watch and waits for its goroutine; it reports whether this
// call was the one that stopped it.
func (w *pipeWatch) stop() bool {
	first := false
	w.once.Do(func() {
		first = true
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.quit)
		w.wg.Wait()
		w.unwatch() // returns at once if the socket is closed
	})
	return first
}

// PipeNotify signals cv for connection events on socket s (nanonext's
// pipe_notify): once per added connection with PipeAdd, once per removed
// one with PipeRemove, and with PipeFlag the first event also raises cv's
// flag, so that a Wait on cv returns false ("the peer went away"). The
// flag lives in cv: several sockets notifying one cv share it, and
// cv.Reset clears it.
//
// Events arrive in the order they happen. Connections already up when
// PipeNotify is called count as added (NNG only reports later ones; here
// a peer that connected just before cannot be missed). When s closes,
// each connection still up counts as removed, once, so a waiter on
// removals wakes.
//
// stop unregisters the notification and waits for the goroutine it owns
// (one, waiting for s to close); it is idempotent, and closing s ends the
// goroutine too. Unlike NNG, which keeps one callback per event and
// socket, any number of PipeNotify and Monitor may watch one socket.
//
// Errors: ErrInvalid for a nil socket or cv or no event selected,
// ErrClosed for a closed socket.
func PipeNotify(s *sockets.Socket, cv *CV, events PipeEvents) (stop func(), err error) {
	const op = "aio: pipe notify"
	if cv == nil || events&(PipeAdd|PipeRemove) == 0 {
		return func() {}, nanoact.Errorf(nanoact.CodeInvalid, op, "need a cv and PipeAdd or PipeRemove")
	}
	cv.Arm(events&PipeFlag != 0)
	w, err := watchPipes(s, op, func(_ uint32, added bool) {
		if added && events&PipeAdd != 0 || !added && events&PipeRemove != 0 {
			cv.Notify()
		}
	})
	if err != nil {
		return func() {}, err
	}
	return func() { w.stop() }, nil
}

// Monitor records the connections added to and removed from a socket
// (nanonext's monitor and read_monitor): +id for each added, -id for each
// removed, in the order they happen, and signals its CV once per event.
// Pipe ids are NNG's 31-bit ids, so they fit an int32.
//
// A Monitor is made by NewMonitor and must be Closed (or its socket
// closed). It owns one goroutine. Its methods are safe for concurrent use.
type Monitor struct {
	w  *pipeWatch
	cv *CV

	mu  sync.Mutex
	evs []int32
}

// NewMonitor starts monitoring socket s, signalling cv (which may be nil)
// for each event. Connections already up are reported first as added; when
// s closes, those still up are reported as removed (see PipeNotify).
//
// Errors: ErrInvalid for a nil socket, ErrClosed for a closed one.
func NewMonitor(s *sockets.Socket, cv *CV) (*Monitor, error) {
	m := &Monitor{cv: cv}
	w, err := watchPipes(s, "aio: monitor", m.record)
	if err != nil {
		return nil, err
	}
	m.w = w
	return m, nil
}

func (m *Monitor) record(id uint32, added bool) {
	ev := int32(id)
	if !added {
		ev = -ev
	}
	m.mu.Lock()
	m.evs = append(m.evs, ev)
	m.mu.Unlock()
	if m.cv != nil {
		m.cv.Signal()
	}
}

// Read returns the events since the last Read, oldest first, and forgets
// them (nanonext's read_monitor): +id for a connection added, -id for one
// removed. It returns nil if there were none. It never blocks.
func (m *Monitor) Read() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	evs := m.evs
	m.evs = nil
	return evs
}

// Close stops the monitor and waits for its goroutine. Events not yet
// read stay readable. A second Close returns ErrClosed.
func (m *Monitor) Close() error {
	if !m.w.stop() {
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "aio: close monitor"}
	}
	return nil
}
