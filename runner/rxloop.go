package runner

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/recvloop"
	"github.com/nanoact/nanoact/sockets"
)

// newRxLoop returns the receive loop of a dispatcher or a running
// daemon: a recvloop.Loop on the socket (each message handled on the
// connection's reader that brings it, one at a time and in order;
// handling must not block for long), which ends once life is done and the
// receive fails, or the socket closes; other receive errors are retried,
// as a blocking receive's would be.
func newRxLoop(sock *sockets.Socket, life context.Context, handle func(*sockets.Msg), opts ...recvloop.Option) *recvloop.Loop {
	ends := recvloop.OnError(func(err error) bool {
		return life.Err() != nil || errors.Is(err, nanoact.ErrClosed)
	})
	return recvloop.New(sock, handle, append([]recvloop.Option{ends}, opts...)...)
}

// handle decodes and acts on one message from the dispatcher; it frees m
// (a task's goroutine does, for a task).
func (dm *Daemon) handle(m *sockets.Msg) {
	f, err := decodeFrame(m.Body)
	if err != nil {
		dm.log.Warn("malformed message", zap.Uint32("pipe", m.Pipe))
		m.Free()
		return
	}
	switch f.kind {
	case kindChallenge:
		dm.answer(m.Pipe, &f)
	case kindTask:
		dm.start(m, &f)
		return // the task frees m
	case kindCancel:
		dm.mu.Lock()
		if tc := dm.running[f.id]; tc != nil {
			tc.cancel()
		}
		dm.mu.Unlock()
	case kindRefuse:
		dm.refused(m.Pipe, &f)
	case kindBye:
		dm.log.Info("bye from the dispatcher")
		dm.stop(errBye)
	}
	m.Free()
}
