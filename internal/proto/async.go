package proto

import "sync"

// Asynchronous receives.
//
// A receive that has to wait need not park a goroutine: it can be queued as
// a Waiter in the protocol's receive path, and the goroutine that brings a
// message (a pipe's receiver) or ends the wait (a close, a new request, a
// survey's expiry) hands it over by calling the Waiter's Completer. This is
// NNG's aio model, and what lets package aio hold many receives in flight at
// the cost of one small object each.
//
// Every waiter list below is guarded by the lock of the protocol state it
// belongs to, and Completers are always called with no lock held: a
// Completer may start the next receive, or send, on the same socket.

// Completer receives the outcome of an asynchronous receive: a message
// (owned by the callee) and nil, or nil and an error.
type Completer interface {
	Complete(m *Message, err error)
}

// AsyncReceiver is implemented by sockets and contexts whose receive can
// complete by callback.
type AsyncReceiver interface {
	// RecvAsync starts a receive for w, whose C must be set. w.C.Complete
	// is called exactly once: on the calling goroutine before RecvAsync
	// returns when a message is waiting or the receive cannot start (a
	// closed socket, ErrState, a protocol that cannot receive), otherwise
	// later, on the goroutine that delivers the message or ends the wait.
	RecvAsync(w *Waiter)
	// CancelRecv takes w out of its queue if it is still waiting there and
	// reports whether it did; its Completer is then never called, and the
	// caller completes the operation itself. false means the completion
	// has been made or is being made. On a req context, a cancelled
	// receive abandons the request, as a receive that times out does.
	CancelRecv(w *Waiter) bool
}

// Waiter is one asynchronous receive. Set C and pass it to RecvAsync; it
// must not be copied, nor reused until its Completer has been called.
type Waiter struct {
	C Completer

	next, prev *Waiter
	list       *waitList // the list it waits in; nil when in none
	owner      waitOwner // the context it receives for, if any
}

// waitOwner is a protocol context with waiters in a shared list (a rep or
// respondent context waiting on the socket's queue).
type waitOwner interface {
	// took updates the context's state for the message its waiter gets
	// and returns the message as the receiver sees it.
	took(m *Message) *Message
	// closedNow reports whether the context is closed. It is called with
	// the list's lock held.
	closedNow() bool
}

// waitList is a FIFO of waiters, linked through the waiters themselves so
// that queueing allocates nothing.
type waitList struct {
	head, tail *Waiter
}

func (l *waitList) empty() bool { return l.head == nil }

func (l *waitList) push(w *Waiter) {
	w.list, w.next, w.prev = l, nil, l.tail
	if l.tail == nil {
		l.head = w
	} else {
		l.tail.next = w
	}
	l.tail = w
}

// pop takes the first waiter out, or returns nil.
func (l *waitList) pop() *Waiter {
	w := l.head
	if w != nil {
		l.unlink(w)
	}
	return w
}

// remove takes w out if it is in l, and reports whether it was.
func (l *waitList) remove(w *Waiter) bool {
	if w.list != l {
		return false
	}
	l.unlink(w)
	return true
}

func (l *waitList) unlink(w *Waiter) {
	if w.prev == nil {
		l.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		l.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.next, w.prev, w.list = nil, nil, nil
}

// takeIf moves the waiters for which take returns true onto a chain
// (linked through next, nil-terminated) and returns its head; a nil take
// takes them all.
func (l *waitList) takeIf(take func(*Waiter) bool) *Waiter {
	var head, tail *Waiter
	for w := l.head; w != nil; {
		next := w.next
		if take == nil || take(w) {
			l.unlink(w)
			if tail == nil {
				head = w
			} else {
				tail.next = w
			}
			tail = w
		}
		w = next
	}
	return head
}

// failAll completes every waiter of a chain made by takeIf with err. Call
// it with no lock held.
func failAll(head *Waiter, err error) {
	for w := head; w != nil; {
		next := w.next
		w.next = nil
		w.C.Complete(nil, err)
		w = next
	}
}

// closeWaiters fails with ErrClosed every waiter of the lists that each
// yields; each runs with mu held. Protocols call it once the engine is
// closed, when no receive can start any more.
func closeWaiters(mu *sync.Mutex, each func(yield func(*waitList))) {
	var failed []*Waiter
	mu.Lock()
	each(func(l *waitList) {
		if ws := l.takeIf(nil); ws != nil {
			failed = append(failed, ws)
		}
	})
	mu.Unlock()
	for _, ws := range failed {
		failAll(ws, errClosed)
	}
}

// takeOrQueue is the end of a context's RecvAsync, called with mu (the
// lock of q and l) held, which it releases: a message waiting in q
// completes w at once, otherwise w waits in l.
func (e *engine) takeOrQueue(mu *sync.Mutex, q chan *Message, l *waitList, w *Waiter) {
	select {
	case m := <-q:
		mu.Unlock()
		e.ready.notify()
		give(w, m)
		return
	default:
	}
	l.push(w)
	mu.Unlock()
}

// refuse releases mu and completes w with err: a receive that cannot start.
func refuse(mu *sync.Mutex, w *Waiter, err error) {
	mu.Unlock()
	w.C.Complete(nil, err)
}

// cancelIn takes w out of l, under mu; see CancelRecv.
func cancelIn(mu *sync.Mutex, l *waitList, w *Waiter) bool {
	mu.Lock()
	defer mu.Unlock()
	return l.remove(w)
}

// give completes w with m, after its owner, if any, has taken it. Call it
// with no lock held.
func give(w *Waiter, m *Message) {
	if w.owner != nil {
		m = w.owner.took(m)
	}
	w.C.Complete(m, nil)
}

// The engine's queue: the socket-wide receive queue e.recvq is a channel,
// on which blocking receives wait; asynchronous ones wait in e.waiters. A
// waiter first takes what the channel holds; a message delivered while
// waiters wait goes to the first of them. e.nwait counts the waiters (and
// those about to be queued) so that delivery costs one atomic load while
// there are none; delivery checks it after queueing a message and a
// waiter is counted before it looks at the channel, so that one of the
// two always sees the other (see deliver).

// recvAsync starts an asynchronous receive on the engine's queue, for
// owner (nil for the socket itself).
func (e *engine) recvAsync(w *Waiter, owner waitOwner) {
	e.wmu.Lock()
	if e.isClosed() || (owner != nil && owner.closedNow()) {
		e.wmu.Unlock()
		w.C.Complete(nil, errClosed)
		return
	}
	e.nwait.Add(1)
	g := e.recvq.enter()
	select {
	case m := <-g.ch:
		g.leave()
		e.nwait.Add(-1)
		e.wmu.Unlock()
		e.ready.notify()
		w.owner = owner
		give(w, m)
		return
	default:
	}
	g.leave()
	w.owner = owner
	e.waiters.push(w)
	e.wmu.Unlock()
}

// CancelRecv implements AsyncReceiver for the engine's queue: it takes w
// out of the waiters there.
func (e *engine) CancelRecv(w *Waiter) bool {
	e.wmu.Lock()
	ok := e.waiters.remove(w)
	if ok {
		e.nwait.Add(-1)
	}
	e.wmu.Unlock()
	return ok
}

// handOff gives m to the first waiter, reporting false if there is none.
func (e *engine) handOff(m *Message) bool {
	e.wmu.Lock()
	w := e.waiters.pop()
	if w != nil {
		e.nwait.Add(-1)
	}
	e.wmu.Unlock()
	if w == nil {
		return false
	}
	e.complete(w, m)
	return true
}

// pump gives queued messages to waiters while there are both.
func (e *engine) pump() {
	for {
		e.wmu.Lock()
		if e.waiters.empty() {
			e.wmu.Unlock()
			return
		}
		var m *Message
		g := e.recvq.enter()
		select {
		case m = <-g.ch:
			g.leave()
		default:
			g.leave()
			e.wmu.Unlock()
			return
		}
		w := e.waiters.pop()
		e.nwait.Add(-1)
		e.wmu.Unlock()
		e.ready.notify()
		e.complete(w, m)
	}
}

// failWaiters completes with ErrClosed the engine's waiters for which
// match returns true (all of them for a nil match). Call it with no lock
// held.
func (e *engine) failWaiters(match func(*Waiter) bool) {
	e.wmu.Lock()
	head := e.waiters.takeIf(match)
	for w := head; w != nil; w = w.next {
		e.nwait.Add(-1)
	}
	e.wmu.Unlock()
	failAll(head, errClosed)
}

// RecvAsync implements AsyncReceiver for protocols that receive from the
// engine's queue with no state of their own (pull, pair, poly, bus, and
// every raw socket); the others fail with ErrNotSupported.
func (e *engine) RecvAsync(w *Waiter) {
	if e.recvq == nil {
		w.C.Complete(nil, errNotSupported)
		return
	}
	e.recvAsync(w, nil)
}
