package aio_test

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// numSender sends n messages numbered from 0 (a 4-byte big-endian number
// first) on src from a goroutine, message i being size(i) bytes long.
type numSender struct {
	sent    atomic.Int64  // messages sent so far
	reached chan struct{} // closed once mark messages are sent
	done    chan error    // the goroutine's end: nil once all n are sent
}

func sendNums(ctx context.Context, wg *sync.WaitGroup, src *sockets.Socket, n, mark int, size func(i int) int) *numSender {
	s := &numSender{reached: make(chan struct{}), done: make(chan error, 1)}
	wg.Go(func() {
		for i := range n {
			b := make([]byte, max(size(i), 4))
			binary.BigEndian.PutUint32(b, uint32(i))
			if err := src.Send(ctx, b, sockets.Raw); err != nil {
				s.done <- err
				return
			}
			if s.sent.Add(1) == int64(mark) {
				close(s.reached)
			}
		}
		s.done <- nil
	})
	return s
}

// recvNum receives one message of a numSender's on s and returns its number.
func recvNum(ctx context.Context, t *testing.T, s *sockets.Socket) int {
	t.Helper()
	m, err := s.RecvMsg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if len(m.Body) < 4 {
		t.Fatalf("message of %d bytes", len(m.Body))
	}
	return int(binary.BigEndian.Uint32(m.Body))
}

// waitReached waits until s has sent its mark.
func waitReached(ctx context.Context, t *testing.T, s *numSender) {
	t.Helper()
	select {
	case <-s.reached:
	case err := <-s.done:
		t.Fatalf("sender ended before its mark: %v", err)
	case <-ctx.Done():
		t.Fatalf("sender stuck at %d messages: the device queued no burst", s.sent.Load())
	}
}

// pipelineSockets opens the sockets of src → in | device | out → dst: a
// push, a raw pull, a raw push and a pull.
func pipelineSockets(t *testing.T) (in, out, src, dst *sockets.Socket) {
	return open(t, sockets.Pull, sockets.WithRaw()), open(t, sockets.Push, sockets.WithRaw()), open(t, sockets.Push), open(t, sockets.Pull)
}

// burstMark is a number of messages on their way through a device over
// inproc (no buffer) that only a burst queued in the device's room lets
// its sender reach: without, the sockets' queues and goroutines on the
// way hold 9 at most (see TestDeviceBackPressure).
const burstMark = 32

// TestDeviceHoldsSendRoom: a device holds room for a burst on its sending
// socket beyond the send-buffer the user set, which the option still
// reports, and gives it back when stopped keeping what is queued there.
func TestDeviceHoldsSendRoom(t *testing.T) {
	ctx := ctxT(t)
	in := open(t, sockets.Pull, sockets.WithRaw())
	out := open(t, sockets.Push, sockets.WithRaw(), sockets.WithSendMode(sockets.Raw))
	if err := sockets.Set(out, sockets.SendBuffer, 2); err != nil {
		t.Fatal(err)
	}
	dev := aio.Device(in, out)
	// out has no peer: its queue takes send-buffer plus the device's room.
	room := 2 + aio.DeviceRoom()
	if room <= 2 {
		t.Fatalf("the device holds no room (%d)", aio.DeviceRoom())
	}
	for i := range room {
		if err := out.Send(sockets.NonBlock(ctx), []byte{byte(i)}); err != nil {
			t.Fatalf("send %d of %d: %v", i, room, err)
		}
	}
	wantCode(t, out.Send(sockets.NonBlock(ctx), []byte{0}), nanoact.ErrTryAgain)
	if n, err := sockets.Get(out, sockets.SendBuffer); err != nil || n != 2 {
		t.Fatalf("send-buffer while the device runs: %d, %v; want 2", n, err)
	}
	dev.Stop()
	if n, err := sockets.Get(out, sockets.SendBuffer); err != nil || n != 2 {
		t.Fatalf("send-buffer after the device: %d, %v; want 2", n, err)
	}
	// The room is given back, the messages in it kept, in order.
	wantCode(t, out.Send(sockets.NonBlock(ctx), []byte{0}), nanoact.ErrTryAgain)
	dst := open(t, sockets.Pull)
	connect(t, dst, out, "")
	for i := range room {
		m, err := dst.RecvMsg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Body) != 1 || m.Body[0] != byte(i) {
			t.Fatalf("message %d is %v", i, m.Body)
		}
		m.Free()
	}
}

// TestDeviceBackPressure: with the far side not reading, a device queues
// one burst for its writer and then holds its sender back: what is sent
// and not yet received stays bounded by the queues on the way, and comes
// out complete and in order.
func TestDeviceBackPressure(t *testing.T) {
	ctx := ctxT(t)
	in, out, src, dst := pipelineSockets(t)
	for _, s := range []*sockets.Socket{in, dst} {
		if err := sockets.Set(s, sockets.RecvBuffer, 1); err != nil {
			t.Fatal(err)
		}
	}
	dev := aio.Device(in, out)
	defer dev.Stop()
	connect(t, in, src, "")
	connect(t, dst, out, "")
	// inproc has no buffer: the messages on the way are in the sockets'
	// queues (src's send queue and in's receive queue, 1 each; out's
	// room and its pipe's place), with src's and out's writers, in's
	// reader, the device forwarding (in's reader, or the goroutine that
	// started the device while it finds messages queued) and dst's
	// reader, one each, and in dst's receive queue (1): 9 more than the
	// room. The bound leaves some slack; a device that queued without
	// bound would let all n through.
	bound := aio.DeviceRoom() + 16
	const n = 2000
	var wg sync.WaitGroup
	defer wg.Wait()
	// Without room held, no more than 9 messages could be on the way.
	s := sendNums(ctx, &wg, src, n, burstMark, func(int) int { return 8 })
	waitReached(ctx, t, s)
	for i := range n {
		if queued := s.sent.Load() - int64(i); queued > int64(bound) {
			t.Fatalf("%d messages on the way, more than the queues hold (%d)", queued, bound)
		}
		if got := recvNum(ctx, t, dst); got != i {
			t.Fatalf("message %d arrived as number %d", i, got)
		}
	}
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
}

// TestDeviceStopWithBurst stops a device while a burst waits in its
// sending socket's queue and the far side is not reading: the burst is
// the socket's and is still delivered, in order, and the messages after
// it stay in the receiving socket's queue; only the one message the
// device was forwarding when stopped may be lost (as in NNG), none
// duplicated.
func TestDeviceStopWithBurst(t *testing.T) {
	ctx := ctxT(t)
	in, out, src, dst := pipelineSockets(t)
	n := burstMark + 100
	if err := sockets.Set(dst, sockets.RecvBuffer, 1); err != nil {
		t.Fatal(err)
	}
	// After Stop the rest of the messages fit in in's receive queue, however
	// few the device forwarded: if its loop had not started yet when the
	// sender passed the mark (on a loaded machine), in holds them all.
	if err := sockets.Set(in, sockets.RecvBuffer, n); err != nil {
		t.Fatal(err)
	}
	dev := aio.Device(in, out)
	connect(t, in, src, "")
	connect(t, dst, out, "")
	var wg sync.WaitGroup
	defer wg.Wait()
	s := sendNums(ctx, &wg, src, n, burstMark, func(int) int { return 8 })
	waitReached(ctx, t, s)
	// The device is forwarding when stopped: out has sent (dst holds what
	// it took, the rest waits in out's queue).
	testkit.WaitFor(t, "the device forwarding", nil, func() bool {
		sent, err := out.Stat("tx_msgs")
		return err == nil && sent > 0
	})
	dev.Stop()
	_, err := dev.Result()
	wantCode(t, err, nanoact.ErrCanceled)
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	// in holds an unbroken tail, first..n-1.
	first := recvNum(ctx, t, in)
	for want := first + 1; want < n; want++ {
		if got := recvNum(ctx, t, in); got != want {
			t.Fatalf("in: got number %d, want %d", got, want)
		}
	}
	// dst gets the unbroken head, 0..first-1, or 0..first-2 if the
	// device dropped first-1 when stopped.
	last := first - 1
	for want := 0; want < first-1; want++ {
		if got := recvNum(ctx, t, dst); got != want {
			t.Fatalf("dst: got number %d, want %d", got, want)
		}
	}
	if err := out.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := dst.RecvMsg(sockets.NonBlock(ctx))
	switch {
	case errors.Is(err, nanoact.ErrTryAgain): // dropped, or still on its way
	case err != nil:
		t.Fatal(err)
	default:
		if got := int(binary.BigEndian.Uint32(m.Body)); got != last {
			t.Fatalf("dst: got number %d after %d", got, last-1)
		}
		m.Free()
	}
}

// TestDeviceBurstOrder sends messages of many sizes through a device
// over tcp and ipc, where the sending pipe's writer writes what is queued
// with one system call: every message arrives, in order, whole.
func TestDeviceBurstOrder(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc"} {
		t.Run(tr, func(t *testing.T) {
			ctx := ctxT(t)
			in, out, src, dst := pipelineSockets(t)
			dev := aio.Device(in, out)
			defer dev.Stop()
			url := "tcp://127.0.0.1:0"
			if tr == "ipc" {
				url = "ipc://" + testkit.IPCPath(t)
			}
			connect(t, in, src, url)
			if tr == "ipc" {
				url = "ipc://" + testkit.IPCPath(t)
			}
			connect(t, dst, out, url)
			const n = 3000
			size := func(i int) int { return 4 + (i*397)%5000 }
			var wg sync.WaitGroup
			defer wg.Wait()
			s := sendNums(ctx, &wg, src, n, n, size)
			for i := range n {
				m, err := dst.RecvMsg(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := int(binary.BigEndian.Uint32(m.Body)); got != i || len(m.Body) != size(i) {
					t.Fatalf("message %d arrived as number %d, %d bytes (want %d)", i, got, len(m.Body), size(i))
				}
				m.Free()
			}
			if err := <-s.done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
