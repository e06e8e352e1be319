package runner

// The dispatcher's state machine: what its actor does with each message,
// and the reader that feeds it.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/cv"
	"github.com/nanoact/nanoact/sockets"
)

// Messages to the actor besides sockets.PipeEvent (submissions and results
// are handled under the state lock on the caller's goroutine or the
// reader's).
type (
	cancelReq struct{ t *task }
	helloMsg  struct {
		pipe  uint32
		hello frame
	}
	// junkMsg is a message that is malformed or has no business on a
	// connection that has not said hello.
	junkMsg struct {
		pipe uint32
		kind uint64 // 0: malformed
		size int
	}
	// helloLate says that a connection's hello time-out has passed.
	helloLate struct {
		pipe  uint32
		since time.Time
	}
	// refusedLate says that a refused connection had its time to leave.
	refusedLate struct{ pipe uint32 }
	retryMsg    struct{ dm *daemonConn }
)

// resolveLater resolves t with err once the state lock is released, so
// that its callbacks, which may Submit, never run under the lock. Call
// with smu held, after t is taken and counted.
func (d *Dispatcher) resolveLater(t *task, err error) {
	d.st.later = append(d.st.later, job{t: t, err: err})
}

// unlockState releases the state lock, then resolves the aios its holder
// ended (resolveLater): counted before they resolve, as Status requires.
func (d *Dispatcher) unlockState() {
	later := d.st.later
	d.st.later = nil
	d.smu.Unlock()
	for _, r := range later {
		r.t.resolveOut(r.err)
	}
}

// unlockStateRx is unlockState for the reader: the resolutions go off
// its goroutine (resolveRx), since the reader runs on a connection's
// goroutine, which a caller's callback must not hold up.
func (d *Dispatcher) unlockStateRx() {
	later := d.st.later
	d.st.later = nil
	d.smu.Unlock()
	for _, j := range later {
		d.resolveRx(j)
	}
}

// resolveRx hands a resolution decided on the reader to the queue that
// runs it, in the order the reader decides them: a task's aio to the
// resolver (d.res), whose callbacks must not stop the connection's
// reading (a result the daemon sent before it went must be read, and
// win: issue 17.8, however long a callback takes); a setup task (OnJoin)
// straight to the reports queue, since its resolve only queues the
// report (outlet.reports), not through the resolver, so that a slow aio
// callback does not hold up OnJoin reports. It never blocks.
func (d *Dispatcher) resolveRx(j job) {
	if j.t.out.reports {
		j.t.resolveOut(j.err)
		return
	}
	d.res.post(j)
}

// Outcomes of a result, for the counters.
const (
	outcomeNone     uint8 = iota // the task had been resolved otherwise
	outcomeOK                    // resolved with its value
	outcomeFailed                // resolved with the task's error
	outcomeCanceled              // resolved as timed out
)

// dispatchActor is the dispatcher as its actor's Receiver. Being a
// sync.Locker, it has the actor hold the state lock (smu) around every
// message and every d.ref.Call function: submissions and results, the
// hot path, take the same lock on the submitter's and the reader's
// goroutines instead of two messages to the actor per task.
type dispatchActor Dispatcher

func (a *dispatchActor) Receive(c *actor.Context) { (*Dispatcher)(a).receive(c) }
func (a *dispatchActor) Lock()                    { a.smu.Lock() }
func (a *dispatchActor) Unlock()                  { (*Dispatcher)(a).unlockState() }

// receive is the actor's behaviour, run with the state lock held.
func (d *Dispatcher) receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case sockets.PipeEvent:
		if m.Added {
			d.onPipeAdded(m.Pipe)
		} else {
			d.onPipeRemoved(m.Pipe)
		}
	case helloMsg:
		d.onHello(m.pipe, &m.hello)
	case cancelReq:
		d.onCancel(m.t)
	case junkMsg:
		d.onJunk(m)
	case helloLate:
		d.onHelloLate(m)
	case refusedLate:
		d.onRefusedLate(m.pipe)
	case sweptMsg:
		d.onSwept(m.sw)
	case pinnedSubmit:
		d.onPinned(m)
	case overdueMsg:
		d.onOverdue(m)
	case retryMsg:
		m.dm.full = false
		d.pumpPinned(m.dm)
		d.makeReady(m.dm, false)
		d.pump()
	}
}

func (d *Dispatcher) onSubmit(t *task) {
	st := &d.st
	if t.state != stateNew {
		d.unhold(t)
		return // cancelled before it got here
	}
	if st.shut {
		t.state = stateGone
		d.unhold(t)
		if t.take() {
			st.canceled++
			d.resolveLater(t, t.staged(&nanoact.Error{Code: nanoact.CodeClosed, Op: "runner: task " + t.name}))
		}
		return
	}
	t.state = stateQueued
	st.queue.pushBack(t)
	st.queued++
	d.pump()
}

// pump sends queued tasks to daemons with a free slot, in order.
func (d *Dispatcher) pump() {
	st := &d.st
	for st.queued > 0 {
		dm := d.nextReady()
		if dm == nil {
			return
		}
		t := d.nextQueued()
		if t == nil {
			d.makeReady(dm, true)
			return
		}
		if !d.send(dm, t) {
			return
		}
	}
}

// nextReady pops the next daemon with a free slot, or nil.
func (d *Dispatcher) nextReady() *daemonConn {
	for {
		dm, ok := d.st.ready.popFront()
		if !ok {
			return nil
		}
		dm.inReady = false
		if d.canTake(dm) {
			return dm
		}
	}
}

func (d *Dispatcher) canTake(dm *daemonConn) bool {
	return d.st.daemons[dm.pipe] == dm && !dm.leaving && !dm.full && dm.busy < dm.max && dm.remaining != 0 && dm.setups == 0
}

// makeReady puts dm back among the daemons with a free slot.
func (d *Dispatcher) makeReady(dm *daemonConn, front bool) {
	if dm.inReady || !d.canTake(dm) {
		return
	}
	dm.inReady = true
	if front {
		d.st.ready.pushFront(dm)
	} else {
		d.st.ready.pushBack(dm)
	}
}

// nextQueued pops the oldest task still queued, or nil.
func (d *Dispatcher) nextQueued() *task {
	st := &d.st
	for {
		t, ok := st.queue.popFront()
		if !ok {
			return nil
		}
		if t.state != stateQueued {
			continue
		}
		if t.resolved.Load() {
			// Resolved by its time-out or caller: its cancelReq counts it.
			t.state = stateGone
			st.queued--
			d.unhold(t)
			continue
		}
		return t
	}
}

// send gives t to dm. On a full pipe queue t goes back to the front and
// dm waits for a result; false if nothing more can be sent now.
func (d *Dispatcher) send(dm *daemonConn, t *task) bool {
	st := &d.st
	var timeout uint64
	if exp := t.deadline(); exp != 0 {
		left := time.Duration(exp - now())
		if left <= 0 {
			left = 1
		}
		timeout = uint64(left)
	}
	first := t.phase.CompareAndSwap(phaseQueued, phaseSent)
	if !first && t.phase.Load() != phaseSent {
		// Resolved while queued, as never started: drop it (its
		// cancelReq counts it).
		t.state = stateGone
		st.queued--
		d.unhold(t)
		return true
	}
	st.nextWid++
	wid := st.nextWid
	m := sockets.NewMsg(nil)
	t.attempt++
	m.Body = appendTask(m.Body[:0], wid, t.name, t.args(), timeout, t.id, uint64(t.attempt), t.seed, t.traceSend(dm.id))
	d.mu.Lock()
	t.pipe, t.wid = dm.pipe, wid
	d.attempts[wid] = t
	d.mu.Unlock()
	err := d.sock.Send(d.nb, m, dm.to)
	// Send took m's buffers, on success or failure alike (it frees them
	// then): this returns the empty wrapper to the message pool, as the
	// aio device does after SendMsg.
	m.Free()
	if err != nil {
		d.mu.Lock()
		delete(d.attempts, wid)
		d.mu.Unlock()
		t.attempt--
		if first {
			t.phase.CompareAndSwap(phaseSent, phaseQueued) // not sent after all
		}
		if t.pin {
			dm.pinned.pushFront(t)
		} else {
			st.queue.pushFront(t)
		}
		if errors.Is(err, nanoact.ErrTryAgain) {
			// Its connection's queue is full: wait for a result from it,
			// or, with nothing running there, retry shortly.
			dm.full = true
			if dm.busy == 0 {
				time.AfterFunc(time.Millisecond, func() { d.ref.Send(retryMsg{dm}) })
			}
			return true // other daemons may take it
		}
		d.log.Warn("task not sent", zap.Uint32("pipe", dm.pipe), zap.Error(err))
		return false
	}
	t.state = stateRunning
	st.queued--
	d.unhold(t)
	dm.running[wid] = t
	dm.busy++
	if dm.remaining > 0 {
		dm.remaining--
	}
	d.makeReady(dm, false)
	return true
}

// claim takes the attempt wid of a task on pipe out of the table: whoever
// claims it (a result, a cancellation, a lost daemon) deals with it.
func (d *Dispatcher) claim(wid uint64, pipe uint32) *task {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.attempts[wid]
	if t == nil || t.pipe != pipe {
		return nil
	}
	delete(d.attempts, wid)
	return t
}

// onDone frees the slot of attempt wid on pipe's daemon and counts its
// outcome; call with the state lock held.
func (d *Dispatcher) onDone(pipe uint32, wid uint64, outcome uint8) {
	st := &d.st
	switch outcome {
	case outcomeOK:
		st.completed++
	case outcomeFailed:
		st.failed++
	case outcomeCanceled:
		st.canceled++
	}
	dm := st.daemons[pipe]
	if dm == nil {
		if _, ok := st.waiting[pipe]; ok {
			d.onJunk(junkMsg{pipe: pipe, kind: kindResult})
		}
		return
	}
	t := dm.running[wid]
	if t == nil {
		return
	}
	delete(dm.running, wid)
	d.disarmOverdue(wid)
	dm.busy--
	dm.full = false
	if t.state == stateRunning && t.wid == wid {
		t.state = stateGone
	}
	switch outcome {
	case outcomeOK:
		dm.completed++
	case outcomeFailed:
		dm.failed++
	}
	d.setupDone(dm, t)
	if d.maybeBye(dm) {
		return
	}
	d.makeReady(dm, false)
	d.pump()
}

// maybeBye sends bye to a daemon that is leaving or has run its quota,
// once nothing runs on it.
func (d *Dispatcher) maybeBye(dm *daemonConn) bool {
	if dm.busy > 0 || dm.byeSent || !(dm.leaving || dm.remaining == 0) {
		return false
	}
	dm.byeSent = true
	d.sendSimple(dm.pipe, kindBye)
	return true
}

func (d *Dispatcher) sendSimple(pipe uint32, kind uint64) {
	m := sockets.NewMsg(nil)
	m.Body = appendSimple(m.Body[:0], kind)
	_ = d.sock.Send(d.nb, m, sockets.ToPipe(pipe))
}

func (d *Dispatcher) onCancel(t *task) {
	st := &d.st
	st.canceled++
	switch t.state {
	case stateNew:
		t.state = stateGone
	case stateQueued:
		t.state = stateGone
		st.queued--
		d.unhold(t)
	case stateRunning:
		if d.claim(t.wid, t.pipe) == t {
			m := sockets.NewMsg(nil)
			m.Body = appendCancel(m.Body[:0], t.wid)
			_ = d.sock.Send(d.nb, m, sockets.ToPipe(t.pipe))
			d.armOverdue(t.pipe, t.wid)
		}
		// The slot stays busy until the daemon's result comes back, or
		// its process is killed after the interrupt grace.
	}
}

// onPipeAdded challenges a new connection: a fresh nonce from
// crypto/rand, which its hello must answer (helloMAC).
func (d *Dispatcher) onPipeAdded(pipe uint32) {
	st := &d.st
	if st.daemons[pipe] != nil || st.refused[pipe] {
		return // an old-version hello came first
	}
	delete(st.gone, pipe)
	pd := &pending{since: time.Now(), nonce: make([]byte, nonceSize)}
	_, _ = rand.Read(pd.nonce) // never fails (crypto/rand)
	st.waiting[pipe] = pd
	if to := d.cfg.helloTimeout; to > 0 && !st.shut {
		since := pd.since
		st.helloDue[pipe] = time.AfterFunc(to, func() { d.ref.Send(helloLate{pipe, since}) })
	}
	m := sockets.NewMsg(nil)
	m.Body = appendChallenge(m.Body[:0], pd.nonce, uint64(d.cfg.maxFrame))
	_ = d.sock.Send(d.nb, m, sockets.ToPipe(pipe))
}

// onHelloLate closes a connection that has not said hello in time.
func (d *Dispatcher) onHelloLate(m helloLate) {
	st := &d.st
	if pd, ok := st.waiting[m.pipe]; !ok || !pd.since.Equal(m.since) {
		return // it said hello, or left, in the meantime
	}
	d.stopHelloTimer(m.pipe)
	delete(st.waiting, m.pipe)
	st.helloLate++
	d.log.Warn("connection closed: no hello", zap.Uint32("pipe", m.pipe), zap.String("remote", d.sock.PeerAddr(m.pipe)), zap.Duration("waited", d.cfg.helloTimeout))
	_ = d.sock.ClosePipe(m.pipe)
}

// onRefusedLate closes a refused connection its peer has not closed.
func (d *Dispatcher) onRefusedLate(pipe uint32) {
	if !d.st.refused[pipe] {
		return // gone in the meantime
	}
	delete(d.st.helloDue, pipe)
	d.log.Warn("refused connection closed: the peer stayed", zap.Uint32("pipe", pipe), zap.String("remote", d.sock.PeerAddr(pipe)))
	_ = d.sock.ClosePipe(pipe)
}

// stopHelloTimer stops and forgets a connection's hello time-out.
func (d *Dispatcher) stopHelloTimer(pipe uint32) {
	if t := d.st.helloDue[pipe]; t != nil {
		t.Stop()
		delete(d.st.helloDue, pipe)
	}
}

// onHello checks a hello against its connection's challenge: the
// version, then the MAC keyed by the token. A connection that fails is
// refused (and told why); one that passes joins as a daemon, its receive
// gate opened for task-sized results, and takes over the id of a daemon
// still connected under it (takeOver).
func (d *Dispatcher) onHello(pipe uint32, h *frame) {
	st := &d.st
	if st.gone[pipe] || st.refused[pipe] || st.daemons[pipe] != nil {
		return
	}
	pd := st.waiting[pipe]
	delete(st.waiting, pipe)
	d.stopHelloTimer(pipe)
	reason := ""
	switch {
	case h.version != wireVersion:
		reason = fmt.Sprintf("protocol version %d, want %d (upgrade the daemon)", h.version, wireVersion)
	case pd == nil:
		reason = "hello before challenge"
	case !hmac.Equal(h.mac, helloMAC(d.token, pd.nonce, h.daemon, h.max, h.tasks)):
		reason = "bad token"
	case st.shut:
		reason = "dispatcher closed"
	}
	if reason != "" {
		d.refuse(pipe, h.daemon, reason)
		return
	}
	if err := d.sock.OpenRecvGate(pipe); err != nil && !errors.Is(err, nanoact.ErrNotSupported) {
		return // gone in the meantime: its removal follows
	}
	if old := d.connectedAs(h.daemon); old != nil {
		d.takeOver(old, pipe)
	}
	// Claims are capped, and nothing is sized from them: the running
	// map grows with the tasks the daemon runs.
	mx := int(min(h.max, uint64(d.cfg.perDaemon)))
	if mx < 1 {
		mx = 1
	}
	remaining := -1
	if h.tasks > 0 {
		remaining = int(min(h.tasks, 1<<40))
	}
	st.joins++
	dm := &daemonConn{pipe: pipe, to: sockets.ToPipe(pipe), id: h.daemon, max: mx, remaining: remaining,
		running: make(map[uint64]*task), joined: time.Now(), order: st.joins}
	dm.remote = zap.String("remote", d.sock.PeerAddr(pipe))
	st.daemons[pipe] = dm
	d.mu.Lock()
	d.ids[pipe] = dm.id
	d.mu.Unlock()
	d.log.Info("daemon joined", zap.Uint32("pipe", pipe), dm.remote, zap.String("daemon", h.daemon), zap.Int("max", mx))
	d.notify(len(st.daemons), cv.Event{Kind: cv.Up, Child: dm.id})
	d.joined(dm.id) // after notify: StartDaemons' caller sees it in Daemons
	d.replaySetups(dm)
	d.makeReady(dm, false)
	d.pump()
}

// refuse refuses connection pipe: it is told why and counted, and
// closed if it has not gone after the hello time-out.
func (d *Dispatcher) refuse(pipe uint32, daemon, reason string) {
	d.st.refusedN++
	d.log.Warn("daemon refused", zap.Uint32("pipe", pipe), zap.String("remote", d.sock.PeerAddr(pipe)), zap.String("daemon", daemon), zap.String("reason", reason))
	d.turnAway(pipe, reason, nanoact.CodePeerAuth)
}

// turnAway sends connection pipe a refusal (reason, and code for the
// daemon's Run: see the package doc's refuse message) and marks it
// refused: nothing it sends is taken any more. It is not closed now:
// ClosePipe closes the connection under the messages queued to it, which
// would drop the refusal unsent. A daemon leaves once refused; a peer
// that stays (or a half-open connection) is closed after the hello
// time-out, which also gives the refusal time to arrive.
func (d *Dispatcher) turnAway(pipe uint32, reason string, code nanoact.Code) {
	st := &d.st
	st.refused[pipe] = true
	m := sockets.NewMsg(nil)
	m.Body = appendRefuse(m.Body[:0], reason, uint64(code))
	_ = d.sock.Send(d.nb, m, sockets.ToPipe(pipe))
	if to := d.cfg.helloTimeout; to > 0 && !st.shut {
		st.helloDue[pipe] = time.AfterFunc(to, func() { d.ref.Send(refusedLate{pipe}) })
	}
}

// onJunk deals with a message that is malformed or not a hello: from a
// connection that has not said hello, it closes the connection (counted
// as refused, logged once); from a daemon, a malformed one closes the
// connection (logged), one of an unexpected kind is ignored.
func (d *Dispatcher) onJunk(m junkMsg) {
	st := &d.st
	if dm := st.daemons[m.pipe]; dm != nil {
		if m.kind == 0 {
			// A daemon that speaks garbage cannot be trusted with the
			// results it owes: its connection closes, and its tasks fail
			// with ErrConnReset (or are re-queued) as for a crash.
			d.log.Warn("malformed message: daemon disconnected", zap.Uint32("pipe", m.pipe), dm.remote, zap.String("daemon", dm.id), zap.Int("size", m.size))
			_ = d.sock.ClosePipe(m.pipe)
		}
		return
	}
	if _, ok := st.waiting[m.pipe]; !ok {
		return // refused or gone already
	}
	delete(st.waiting, m.pipe)
	d.stopHelloTimer(m.pipe)
	st.refused[m.pipe] = true
	st.refusedN++
	d.log.Warn("connection closed: a message other than hello", zap.Uint32("pipe", m.pipe), zap.String("remote", d.sock.PeerAddr(m.pipe)),
		zap.Uint64("kind", m.kind), zap.Int("size", m.size))
	_ = d.sock.ClosePipe(m.pipe)
}

func (d *Dispatcher) onLeave(pipe uint32) {
	dm := d.st.daemons[pipe]
	if dm == nil {
		return
	}
	dm.leaving = true
	d.maybeBye(dm)
}

// errDaemonLost is the cause of the Failed event of a lost daemon.
var errDaemonLost = errors.New("daemon lost: its connection closed without a bye")

func (d *Dispatcher) onPipeRemoved(pipe uint32) {
	st := &d.st
	delete(st.waiting, pipe)
	d.stopHelloTimer(pipe)
	delete(st.refused, pipe)
	if !st.gone[pipe] { // twice for a pipe taken over (takeOver)
		st.gone[pipe] = true
		st.goneRing = append(st.goneRing, pipe)
	}
	if len(st.goneRing) > 4096 {
		delete(st.gone, st.goneRing[0])
		st.goneRing = st.goneRing[1:]
	}
	dm := st.daemons[pipe]
	if dm == nil {
		return
	}
	delete(st.daemons, pipe)
	d.dropPinned(dm, false)
	if dm.inReady {
		// Drop it now, not at the next submission, so that nothing keeps
		// a departed daemon's state.
		st.ready.removeFunc(func(x *daemonConn) bool { return x == dm })
		dm.inReady = false
	}
	// Lost, not left: gone with tasks running, or without saying leave
	// and without a bye (a crash, a dropped connection).
	lost := !st.shut && (len(dm.running) > 0 || !dm.leaving && !dm.byeSent)
	if len(dm.running) == 0 {
		d.departed(dm, lost, nil)
		return
	}
	st.lost++
	// Its results may still wait in the socket's receive queue, ahead of
	// this event: the reader takes them first, then claims what is left
	// (sweep), so that a task whose result arrived is never reported
	// lost.
	sw := &sweep{dm: dm, lost: lost, work: make([]*task, 0, len(dm.running)), wids: make([]uint64, 0, len(dm.running))}
	for wid, t := range dm.running {
		sw.work = append(sw.work, t)
		sw.wids = append(sw.wids, wid)
	}
	clear(dm.running)
	st.sweeping[pipe] = sw
	d.postSweep(sw)
}

// sweep is the tasks that were running on a departed daemon, for the
// reader to claim once it has taken what the daemon sent before it went.
type sweep struct {
	dm      *daemonConn
	lost    bool
	work    []*task
	wids    []uint64
	claimed []*task // by the reader
}

// sweptMsg tells the actor the reader has swept sw.
type sweptMsg struct{ sw *sweep }

// postSweep hands sw to the reader and has it sweep before its next
// receive.
func (d *Dispatcher) postSweep(sw *sweep) {
	d.swMu.Lock()
	d.sweeps = append(d.sweeps, sw)
	d.nsweeps.Store(int32(len(d.sweeps)))
	d.swMu.Unlock()
	if rx := d.rx; rx != nil {
		rx.Kick()
	}
}

// onSwept re-queues or fails the tasks of a departed daemon that the
// reader claimed (no result came for them), and records the departure.
func (d *Dispatcher) onSwept(sw *sweep) {
	st := &d.st
	if st.sweeping[sw.dm.pipe] != sw {
		return // Close dealt with it
	}
	delete(st.sweeping, sw.dm.pipe)
	d.departed(sw.dm, sw.lost, sw.claimed)
}

// departed ends the daemon dm has left: the tasks lost with it (claimed
// already) are re-queued (Requeue) or failed, its status is kept among
// the departed ones, and the CVs are told.
func (d *Dispatcher) departed(dm *daemonConn, lost bool, claimed []*task) {
	st := &d.st
	pipe := dm.pipe
	var back []*task
	for _, t := range claimed {
		if t.requeue != 0 && !st.shut {
			if t.requeue > 0 {
				t.requeue--
			}
			back = append(back, t)
			continue
		}
		t.state = stateGone
		if t.take() {
			st.failed++
			dm.failed++
			d.resolveLater(t, mayHaveRun(&nanoact.Error{Code: nanoact.CodeConnReset, Op: "runner: task " + t.name + " on daemon " + dm.id, Err: errConnReset}))
		}
	}
	if claimed != nil {
		d.log.Warn("daemon lost mid-task", zap.Uint32("pipe", pipe), dm.remote, zap.String("daemon", dm.id),
			zap.Int("lost", len(claimed)), zap.Int("requeued", len(back)))
	} else {
		d.log.Info("daemon left", zap.Uint32("pipe", pipe), dm.remote, zap.String("daemon", dm.id))
	}
	d.mu.Lock()
	delete(d.ids, pipe)
	d.mu.Unlock()
	// Back to the front, oldest first.
	slices.SortFunc(back, func(a, b *task) int { return compareUint(a.wid, b.wid) })
	for i := len(back) - 1; i >= 0; i-- {
		t := back[i]
		t.state = stateQueued
		st.queue.pushFront(t)
		st.queued++
		st.requeued++
	}
	ds := dm.status(false)
	ds.Left, ds.Executing = time.Now(), 0
	st.departed = append(st.departed, ds)
	if len(st.departed) > 64 {
		st.departed = st.departed[1:]
	}
	ev := cv.Event{Kind: cv.Stopped, Child: dm.id}
	if lost {
		ev = cv.Event{Kind: cv.Failed, Child: dm.id, Err: &nanoact.Error{Code: nanoact.CodeConnReset, Op: "rpc: daemon " + dm.id, Err: errDaemonLost}}
	}
	d.notify(len(st.daemons), ev)
	d.pump()
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// read is the reader: a receive loop (newRxLoop) that decodes each message
// on the goroutine bringing it, resolves the aios of results, and
// forwards the rest to the actor; before each receive it sweeps the
// tasks of departed daemons the actor has posted. It returns once the
// dispatcher's life ends or its socket closes.
func (d *Dispatcher) read() {
	stopAfter := context.AfterFunc(d.life, d.rx.Halt)
	defer stopAfter()
	d.rx.Start()
	<-d.rx.Done()
}

// sweep runs on the reader, between two receives, once postSweep has
// posted sweeps: it takes every message already received (the departed
// daemons' last results among them, since a connection's messages are
// queued before its removal is reported), then claims the departed
// daemons' tasks still unanswered and hands them to the actor.
func (d *Dispatcher) sweep() {
	if d.nsweeps.Load() == 0 {
		return
	}
	d.swMu.Lock()
	sws := d.sweeps
	d.sweeps = nil
	d.nsweeps.Store(0)
	d.swMu.Unlock()
	// The receive queue is FIFO and bounded (recv-buffer): what was in it
	// when the actor posted the sweep comes out first.
	for range 1 << 16 {
		m, err := d.sock.RecvMsg(d.nb)
		if err != nil {
			break
		}
		d.handle(m)
	}
	for _, sw := range sws {
		for i, t := range sw.work {
			if d.claim(sw.wids[i], sw.dm.pipe) == t {
				sw.claimed = append(sw.claimed, t)
			}
		}
		if sw.claimed == nil {
			sw.claimed = []*task{}
		}
		d.ref.Send(sweptMsg{sw})
	}
}

// handle decodes and dispatches one received message; it frees m.
func (d *Dispatcher) handle(m *sockets.Msg) {
	f, err := decodeFrame(m.Body)
	if err != nil {
		d.ref.Send(junkMsg{pipe: m.Pipe, size: len(m.Body)})
		m.Free()
		return
	}
	switch f.kind {
	case kindResult:
		d.onResult(m.Pipe, &f)
	case kindHello:
		f.mac = slices.Clone(f.mac) // m goes back to the pool
		d.ref.Send(helloMsg{pipe: m.Pipe, hello: f})
	case kindLeave:
		// Here, under the state lock as the results are, not through the
		// actor: a result the daemon sent after its leave must not free a
		// slot the dispatcher then fills before it hears of the leave.
		d.smu.Lock()
		d.onLeave(m.Pipe)
		d.unlockStateRx()
	default:
		d.ref.Send(junkMsg{pipe: m.Pipe, kind: f.kind, size: len(m.Body)})
	}
	m.Free()
}

// onResult resolves the aio of a result, if its attempt is still the
// task's, and tells the actor the daemon's slot is free. The actor hears
// of it before the aio resolves, so that Status counts every task whose
// aio a caller has seen resolve.
func (d *Dispatcher) onResult(pipe uint32, f *frame) {
	t := d.claim(f.id, pipe)
	outcome := outcomeNone
	var err error
	timedOut := false
	if t != nil && !t.resolved.Load() {
		if f.value != nil {
			if derr := t.decode(d.codec, f.value); derr != nil {
				err = &nanoact.Error{Code: nanoact.CodeBadType, Op: "runner: task " + t.name + ": decode result", Err: derr}
			}
		} else if f.hasErr && f.code == uint64(nanoact.CodeTimedOut) && t.deadline() != 0 && now() >= t.deadline() {
			// The daemon saw the task's deadline before our timer did.
			err, timedOut = timeoutError(t.name), true
		} else {
			d.mu.Lock()
			daemon := d.ids[pipe]
			d.mu.Unlock()
			err = resultError(t.name, daemon, f)
		}
		if t.resolved.CompareAndSwap(false, true) {
			switch {
			case timedOut:
				outcome = outcomeCanceled
			case err != nil:
				outcome = outcomeFailed
			default:
				outcome = outcomeOK
			}
		}
	}
	// The slot is freed and the next task sent from here, under the
	// state lock: no hop through the actor on the way from one task to
	// the next.
	d.smu.Lock()
	d.onDone(pipe, f.id, outcome)
	d.unlockStateRx()
	if outcome == outcomeNone {
		return
	}
	if born := d.takeBorn(t); born != 0 {
		d.tasksDone.Emit(TaskDone{Name: t.name, Pipe: pipe, OK: outcome == outcomeOK, Latency: time.Duration(now() - born)})
	}
	t.cleanup()
	d.resolveRx(job{t: t, err: err})
}
