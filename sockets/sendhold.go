package sockets

import (
	"fmt"
	"sync"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/proto"
)

// HoldSendRoom adds n places to the socket's shared send queue (push,
// pair, poly and req) beyond its SendBuffer, until the returned release is
// called, and leaves the SendBuffer option as it was. Package aio's Device
// holds room this way for the bursts it forwards: the sending pipe's
// writer then finds them queued and writes them with one system call.
// While room is held, every send on the socket may queue that much deeper
// before it blocks. Holds add up; release is idempotent and gives the room
// back keeping the queued messages, which are sent first (as shrinking
// SendBuffer does). It never blocks; each call and release allocates the
// queue's new depth.
//
// Errors: ErrInvalid (n outside 0..8192), ErrNotSupported (a protocol
// that sends to chosen pipes or to all: pub, bus, rep, respondent,
// surveyor, or cannot send), ErrClosed.
func (s *Socket) HoldSendRoom(n int) (release func(), err error) {
	const op = "sockets: hold send room"
	if n < 0 || n > 8192 {
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: op, Err: fmt.Errorf("%d is out of range (want 0..8192 messages)", n)}
	}
	if s.isClosed() {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	h, ok := s.eng.(proto.SendHolder)
	if !ok {
		return nil, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: op, Err: fmt.Errorf("%s sockets have no shared send queue", s.proto)}
	}
	if err := h.HoldSend(n); err != nil {
		return nil, nngerr.Wrap(err, op)
	}
	var once sync.Once
	return func() { once.Do(func() { _ = h.HoldSend(-n) }) }, nil
}
