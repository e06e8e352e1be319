package aio

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/recvloop"
	"github.com/nanoact/nanoact/sockets"
)

// Device forwards messages between two raw sockets of complementary
// protocols, in every direction the protocols allow (NNG's nng_device,
// nanonext's device, mangos' Device): what s1 receives s2 sends and, where
// s2 can receive and s1 send, the other way round. A raw rep socket facing
// clients and a raw req socket facing workers make a request broker; a raw
// sub and a raw pub a forwarder. Raw mode keeps each message's SP header
// (the backtrace, request and survey ids) as it passes, so replies and
// survey responses find their way back. With s2 nil (or s2 == s1) it is a
// reflector: what s1 receives it sends back on s1, which must be a bus
// (every peer but the sender gets it, as with NNG's raw bus), pair (back
// to the one peer) or poly socket.
//
// Device never blocks: it returns an aio that stays pending while the
// device runs. The aio resolves to an error matching nanoact.ErrClosed
// when either socket closes, and to one matching nanoact.ErrCanceled when
// stopped (Stop, or Cancel through Ref); Stop returns once forwarding has
// stopped, and leaves both sockets open. Device closes nothing: the
// sockets stay the caller's. Messages already handed to a socket's send
// queue stay there and are sent; the one message a direction is
// forwarding when the device ends is dropped, as in NNG. Signal,
// WithLogger and WithSystem apply as for Recv; a positive Timeout ends the
// device with ErrTimedOut; Mode and ToPipe are ignored.
//
// A message that the receiving side's send refuses (a send-timeout set on
// it, a raw rep reply whose pipe has gone) is dropped and forwarding goes
// on, as in NNG; a full send queue holds the forwarding of its direction
// back, which is back-pressure on the peers that send.
//
// Bursts: while it runs, the device holds room for 64 messages on the
// shared send queue of each socket it sends on (push, pair, poly and req;
// sockets.Socket.HoldSendRoom), beyond that socket's SendBuffer, which
// keeps the value the user set. What the device forwards while the
// sending pipe's writer writes queues there, and the writer takes it all
// into its next system call, so no option needs setting for throughput.
// Memory stays bounded: 64 messages per sending socket more than
// SendBuffer allows, and then back-pressure as above. Other sends on that
// socket may queue as deep while the device runs; when it ends, the room
// is given back and what is queued in it is still sent.
//
// Cost: the aio, one goroutine that watches the sockets for the device's
// life, one per direction that starts it and ends when its first receive
// has to wait, and no goroutine per message: each direction waits in its
// socket's receive queue (sockets.Socket.RecvAsync), and the goroutine
// that delivers a message (the receiving pipe's reader) hands it to the
// other socket's send queue. A message is not copied: its buffers pass
// from the receive to the send, and forwarding allocates nothing.
//
// BenchmarkDevice compares a push → pull pipeline through a device with a
// direct one in alternating rounds. On a 2-CPU machine (load average
// 3.6-7.5, medians of 3), 8 B and 1 KiB messages took 0.94-1.19x the
// direct time over tcp and ipc (1.2-1.75x without the room for bursts),
// C NNG's nng_device 1.05-1.15x its own direct time. 64 KiB messages took
// 1.39x (tcp) and 1.53x (ipc): the extra hop's reads and writes, the
// fewest it can make, are the kernel copying 64 KiB twice more on two
// cores the direct pipeline already keeps busy copying, and a plain Go
// relay of the frames takes as long; C NNG's device took 1.2x, over a
// direct connection that carried a fifth to two fifths of nanoact's
// messages per second. See docs/benchmarks.md.
//
// Errors, through the aio: ErrInvalid when s1 is nil, when a socket is not
// raw (sockets.WithRaw), when the protocols are not each other's peers, or
// when a reflector's protocol is not its own peer.
func Device(s1, s2 *sockets.Socket, opts ...Option) *SendAio {
	if err := checkDevice(s1, s2); err != nil {
		a, resolve := NewPending[struct{}](nil, opts...)
		resolve(struct{}{}, err)
		return a
	}
	if s2 == nil {
		s2 = s1
	}
	d := &device{s1: s1, s2: s2, stopc: make(chan struct{}), watched: make(chan struct{})}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if canRecv(s1) && canSend(s2) {
		d.addDir(s1, s2)
	}
	if s2 != s1 && canRecv(s2) && canSend(s1) {
		d.addDir(s2, s1)
	}
	for _, f := range d.dirs {
		// Room for a burst on the sending socket (not for bus, pub, rep,
		// respondent and surveyor, which have no shared send queue).
		if release, err := f.to.HoldSendRoom(deviceRoom); err == nil {
			d.release = append(d.release, release)
		}
	}
	a, resolve := NewPending[struct{}](d.stop, opts...)
	d.log = a.logger()
	go d.watch(resolve)
	for _, f := range d.dirs {
		// Messages already queued are forwarded at once, and a full send
		// queue would block: not on the caller's goroutine.
		go f.rx.Start()
	}
	return a
}

// deviceRoom is the room, in messages, a device holds on each sending
// socket's shared send queue beyond its SendBuffer
// (sockets.Socket.HoldSendRoom): while the sending pipe's writer writes,
// the next burst queues there, and the writer takes it all into its next
// system call (it takes up to 64 messages or 256 KiB at a time). A
// variable only so that benchmarks can compare with none.
var deviceRoom = 64

// canRecv and canSend tell which way a protocol's messages go.
func canRecv(s *sockets.Socket) bool {
	p := s.Protocol()
	return p != sockets.Push && p != sockets.Pub
}

func canSend(s *sockets.Socket) bool {
	p := s.Protocol()
	return p != sockets.Pull && p != sockets.Sub
}

// checkDevice validates Device's sockets.
func checkDevice(s1, s2 *sockets.Socket) error {
	const op = "aio: device"
	if s1 == nil {
		return &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: errors.New("nil socket")}
	}
	if s2 == nil || s2 == s1 {
		if !s1.Raw() {
			return &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: fmt.Errorf("%s socket is not raw", s1.Protocol())}
		}
		if p := s1.Protocol(); p.Peer() != p {
			return &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: fmt.Errorf("a %s socket cannot reflect: its peer is %s", p, p.Peer())}
		}
		return nil
	}
	for _, s := range []*sockets.Socket{s1, s2} {
		if !s.Raw() {
			return &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: fmt.Errorf("%s socket is not raw", s.Protocol())}
		}
	}
	if s1.Protocol().Peer() != s2.Protocol() {
		return &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: fmt.Errorf("%s and %s are not peers", s1.Protocol(), s2.Protocol())}
	}
	return nil
}

// device is one running Device. Its directions forward on the goroutines
// that deliver messages; watch, its one goroutine, ends it when a socket
// closes or it is stopped, waits for the directions' loops to end, and
// resolves the aio.
type device struct {
	s1, s2 *sockets.Socket
	dirs   []*deviceDir
	log    *zap.Logger
	// release gives back the send room the device holds on its sending
	// sockets (deviceRoom), once nothing forwards any more.
	release []func()

	ctx    context.Context // the sends' context; cancel ends a blocked send
	cancel context.CancelFunc

	once    sync.Once
	err     error         // why the device ended; written before stopc closes
	stopc   chan struct{} // closed when the device is ending
	watched chan struct{} // closed when watch has returned
}

// addDir adds the direction from → to; before the device starts.
func (d *device) addDir(from, to *sockets.Socket) {
	f := &deviceDir{d: d, to: to}
	f.rx = recvloop.New(from, f.forward, recvloop.OnError(f.failed))
	d.dirs = append(d.dirs, f)
}

// finish ends the device with err (the first call wins): it halts the
// directions' loops, which takes the waiting receives out of their
// queues, then cancels the blocked sends. In that order: a loop not yet
// halted receives again after its send is cancelled, and would drop every
// message that comes (its sends failing at once) until halted, not just
// the one it was forwarding.
func (d *device) finish(err error) {
	d.once.Do(func() {
		d.err = err
		close(d.stopc)
		for _, f := range d.dirs {
			f.rx.Halt()
		}
		d.cancel()
	})
}

func (d *device) stopping() bool {
	select {
	case <-d.stopc:
		return true
	default:
		return false
	}
}

// stop is the aio's onStop: end the device and wait until nothing
// forwards any more.
func (d *device) stop() {
	d.finish(&nanoact.Error{Code: nanoact.CodeCanceled, Op: "aio: device", Err: context.Canceled})
	<-d.watched
}

// watch ends the device when either socket closes, then waits for the
// directions to stop and resolves the aio with the cause.
func (d *device) watch(resolve func(struct{}, error)) {
	defer close(d.watched)
	select {
	case <-d.s1.Done():
		d.finish(errDeviceClosed)
	case <-d.s2.Done():
		d.finish(errDeviceClosed)
	case <-d.stopc:
	}
	for _, f := range d.dirs {
		<-f.rx.Done()
	}
	d.cancel()
	for _, release := range d.release {
		release()
	}
	resolve(struct{}{}, d.err)
}

var errDeviceClosed = &nanoact.Error{Code: nanoact.CodeClosed, Op: "aio: device", Err: errors.New("socket closed")}

// deviceDir forwards one direction, from one socket to the other: its
// receive loop (recvloop) keeps one receive waiting on the receiving
// socket and forwards each message on the goroutine that brings it.
type deviceDir struct {
	d  *device
	to *sockets.Socket
	rx *recvloop.Loop
}

// failed is the loop's OnError: a failed receive ends the device.
func (f *deviceDir) failed(err error) bool {
	if errors.Is(err, nanoact.ErrClosed) {
		err = errDeviceClosed
	}
	f.d.finish(err)
	return true
}

// forward sends m on the other socket, header and all; a message that
// cannot be sent is dropped.
func (f *deviceDir) forward(m *sockets.Msg) {
	m.Pipe = 0
	err := f.to.SendMsg(f.d.ctx, m)
	m.Free() // on success only the wrapper: SendMsg took the buffers
	if err == nil {
		return
	}
	switch {
	case errors.Is(err, nanoact.ErrClosed):
		f.d.finish(errDeviceClosed)
	case f.d.stopping():
	default:
		if ce := f.d.log.Check(zap.DebugLevel, "device dropped a message"); ce != nil {
			ce.Write(zap.Uint32("socket", f.to.ID()), zap.Error(err))
		}
	}
}
