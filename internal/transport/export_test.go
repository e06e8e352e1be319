package transport

import (
	"net"
	"time"

	"go.nanomsg.org/mangos/v3"
)

// CodeOf exposes the error classification to the black-box tests.
var CodeOf = codeOf

// RecvFrames reads frames from c as a tcp (or, with ipc, an ipc) pipe of
// protocol self with the given receive limit and word split until Recv
// fails, and returns each message as Header+Body and the error that
// ended it. The fuzz tests drive the decoder with it.
func RecvFrames(c net.Conn, ipc bool, self uint16, limit int, split bool) ([][]byte, error) {
	k := kindTCP
	if ipc {
		k = kindIPC
	}
	o := defaultOptions()
	o.maxRecv, o.split = limit, split
	p := newPipe(c, k, o, "fuzz://", mangos.ProtocolInfo{Self: self})
	var out [][]byte
	for {
		m, err := p.Recv()
		if err != nil {
			_ = p.Close()
			return out, err
		}
		out = append(out, append(append([]byte{}, m.Header...), m.Body...))
		m.Free()
	}
}

// Handshake runs the SP handshake on c as protocol self expecting peer.
func Handshake(c net.Conn, self, peer uint16, timeout time.Duration) error {
	info := mangos.ProtocolInfo{Self: self, Peer: peer, PeerName: "peer"}
	return handshake(c, info, time.Now().Add(timeout), timeout, "fuzz")
}

// Configure applies the tcp options a dialer or listener with keep-alive
// on and the given period would apply to c.
func Configure(c net.Conn, period time.Duration) error {
	o := defaultOptions()
	o.keepAlive, o.kaPeriod = true, period
	return configure(c, o)
}

// SendBatch writes ms over c with one SendBatch of a tcp (or, with ipc,
// an ipc) pipe; the pipe keeps c open.
func SendBatch(c net.Conn, ipc bool, ms []*mangos.Message) error {
	k := kindTCP
	if ipc {
		k = kindIPC
	}
	p := newPipe(c, k, defaultOptions(), "batch://", mangos.ProtocolInfo{})
	return p.SendBatch(ms)
}

// Aliased, StageBody and StageRelease expose the body stager (stage.go);
// StageQueue is the tcp out-queue check a pipe over c would use (nil when
// it would never stage).
var Aliased = aliased

// StageBody runs a stager whose connection reports an empty (or not)
// out-queue over b written pos bytes into a write; release returns its
// buffer.
func StageBody(empty bool, pos int, b []byte) (out []byte, release func()) {
	s := &stager{q: fixedQueue(empty)}
	return s.body(pos, b), s.release
}

type fixedQueue bool

func (q fixedQueue) empty() bool { return bool(q) }

// OutQueueEmpty reports what a tcp pipe over c would see before a send:
// ok false if it would never stage.
func OutQueueEmpty(c net.Conn) (empty, ok bool) {
	q := newOutQueue(c)
	if q == nil {
		return false, false
	}
	return q.empty(), true
}

// SendStaged sends ms over c as a tcp (or ipc) pipe's Send (one message)
// or SendBatch (several) and reports how many bodies it sent from a
// staging copy.
func SendStaged(c net.Conn, ipc bool, ms ...*mangos.Message) (uint64, error) {
	k := kindTCP
	if ipc {
		k = kindIPC
	}
	p := newPipe(c, k, defaultOptions(), "stage://", mangos.ProtocolInfo{})
	var err error
	if len(ms) == 1 {
		err = p.Send(ms[0])
	} else {
		err = p.SendBatch(ms)
	}
	return p.stage.staged, err
}
