package cv

import (
	"strconv"
	"sync"

	"github.com/nanoact/nanoact"
)

// Kind says what happened to a supervisor's child.
type Kind uint8

const (
	// Up: a child joined or came up (a daemon said hello).
	Up Kind = iota + 1
	// Stopped: a child stopped or left normally (a context closed, a
	// worker stopped, a daemon left after its bye).
	Stopped
	// Restarted: a child that failed was started again.
	Restarted
	// Failed: a child crashed or was lost (a worker's handler panicked, a
	// daemon's connection dropped without a bye). Event.Err is the cause.
	Failed
	// Closed: the supervisor itself closed normally; it sends no more
	// events.
	Closed
)

var kindNames = [...]string{"none", "up", "stopped", "restarted", "failed", "closed"}

// String returns the kind's name ("failed"), "none" for the zero Kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is what a supervisor broadcasts: what happened, to which child,
// and for a failure why.
type Event struct {
	Kind Kind
	// Child names the child ("worker-3", a daemon's id, "context 12");
	// empty for Closed.
	Child string
	// Err is the cause of a Failed event, never nil for one (Broadcast
	// fills in ErrInternal); nil for every other kind.
	Err error
}

// deliver counts ev on c: a signal that also raises the flag and records
// the cause for Failed. Forwarded signals are plain ones.
func (c *CV) deliver(ev Event) {
	how := bumpPlain
	if ev.Kind == Failed {
		how = bumpRaise
	}
	c.mu.Lock()
	next, ok := c.bumpLocked(how)
	if ok {
		c.last = ev
		if ev.Kind == Failed {
			c.err = ev.Err
		}
	}
	c.mu.Unlock()
	if ok {
		c.forward(next)
	}
}

// Broadcaster is the supervisor side of condition variables (DESIGN:
// "condition variables are supervisor-broadcast signals"): a set of CVs
// registered by waiters, all told at once of each event of the
// supervisor's children, so that every waiter wakes and re-checks its
// work instead of hanging. A socket (its contexts), an RPC server (its
// workers) and a dispatcher (its daemons) each own one and Broadcast from
// their actor: Failed when a child crashes or is lost, Stopped when it
// stops normally, Restarted, Up, and Closed when the supervisor shuts
// down.
//
// A failure is raised as a failure: a waiter's Wait returns false and the
// CV's Err gives the cause; every other event is a plain signal (Wait
// returns true) and the CV's Last tells which one it was.
//
// The zero value is ready to use; a Broadcaster must not be copied after
// first use. It owns no goroutine; its methods never block on a waiter and
// are safe for concurrent use.
type Broadcaster struct {
	mu     sync.Mutex
	cvs    map[*CV]int // registration count
	closed bool
}

// closedEvent is the event of a closed Broadcaster.
var closedEvent = Event{Kind: Closed}

// Register adds cv to the set; unregister removes it (idempotent). A CV
// registered twice is told once per event and stays until both
// registrations are removed. Registering on a closed Broadcaster delivers
// the Closed event to cv at once (the supervisor is gone) and registers
// nothing. Closed CVs are dropped at the next Broadcast. It never blocks.
func (b *Broadcaster) Register(cv *CV) (unregister func()) {
	if cv == nil {
		return func() {}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cv.deliver(closedEvent)
		return func() {}
	}
	if b.cvs == nil {
		b.cvs = make(map[*CV]int)
	}
	b.cvs[cv]++
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			if n := b.cvs[cv]; n > 1 {
				b.cvs[cv] = n - 1
			} else {
				delete(b.cvs, cv)
			}
			b.mu.Unlock()
		})
	}
}

// Len returns the number of CVs registered.
func (b *Broadcaster) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.cvs)
}

// snapshot returns the registered CVs, dropping the closed ones.
func (b *Broadcaster) snapshot(clear bool) []*CV {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*CV, 0, len(b.cvs))
	for cv := range b.cvs {
		if cv.isClosed() {
			delete(b.cvs, cv)
			continue
		}
		out = append(out, cv)
	}
	if clear {
		b.cvs = nil
	}
	return out
}

// Broadcast tells every registered CV of ev, once each: a Failed event
// raises the CV's flag (Wait returns false) and records ev.Err (Err); any
// other kind is a plain signal. Either way the CV records ev (Last). A
// Failed event without Err gets ErrInternal as its cause; a Closed event
// closes nothing (use Close). After Close it does nothing. It never
// blocks; it costs a lock and a signal per CV.
func (b *Broadcaster) Broadcast(ev Event) {
	if ev.Kind == Failed && ev.Err == nil {
		ev.Err = nanoact.Errorf(nanoact.CodeInternal, "cv: broadcast", "child %q failed", ev.Child)
	}
	if ev.Kind != Failed {
		ev.Err = nil
	}
	for _, cv := range b.snapshot(false) {
		cv.deliver(ev)
	}
}

// Close delivers the Closed event to every registered CV (a plain signal:
// the supervisor stopped normally), forgets them all, and makes later
// Registers deliver it at once. A second Close returns ErrClosed. It
// never blocks.
func (b *Broadcaster) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "cv: close broadcaster"}
	}
	b.closed = true
	b.mu.Unlock()
	for _, cv := range b.snapshot(true) {
		cv.deliver(closedEvent)
	}
	return nil
}
