package aio_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// A receive aio is started before the message exists and collected when
// it has arrived; Stop cancels one that nothing will complete.
func ExampleRecv() {
	pull, _ := sockets.New(sockets.Pull, sockets.Listen("inproc://example-aio-recv"))
	defer pull.Close()
	push, _ := sockets.New(sockets.Push, sockets.Dial("inproc://example-aio-recv", sockets.Sync))
	defer push.Close()

	ctx := context.Background()
	r := aio.Recv[string](pull)
	fmt.Println("resolved:", r.Resolved())

	s := aio.Send(push, "hello")
	if _, err := s.Value(ctx); err != nil {
		fmt.Println(err)
		return
	}
	v, err := r.Value(ctx)
	fmt.Println(v, err, r.Pipe() != 0)

	late := aio.Recv[string](pull, aio.Timeout(10*time.Millisecond))
	_, err = late.Value(ctx)
	fmt.Println(errors.Is(err, nanoact.ErrTimedOut), nanoact.CodeOf(err))

	never := aio.Recv[string](pull)
	never.Stop()
	_, err = never.Result()
	fmt.Println(errors.Is(err, context.Canceled), nanoact.CodeOf(err))
	// Output:
	// resolved: false
	// hello <nil> true
	// true 5 | Timed out
	// true 20 | Operation canceled
}

// RecvFunc decodes in a way the receive modes do not: here a
// length-prefixed string, checked before it is taken.
func ExampleRecvFunc() {
	pull, _ := sockets.New(sockets.Pull, sockets.Listen("inproc://example-aio-recvfunc"))
	defer pull.Close()
	push, _ := sockets.New(sockets.Push, sockets.Dial("inproc://example-aio-recvfunc", sockets.Sync))
	defer push.Close()

	prefixed := func(m *sockets.Msg) (string, error) {
		defer m.Free()
		if len(m.Body) == 0 || int(m.Body[0]) != len(m.Body)-1 {
			return "", errors.New("bad length prefix")
		}
		return string(m.Body[1:]), nil
	}
	ctx := context.Background()
	good := aio.RecvFunc(pull, prefixed)
	bad := aio.RecvFunc(pull, prefixed)
	_ = push.Send(ctx, []byte("\x05hello"), sockets.Raw)
	_ = push.Send(ctx, []byte("\x09hello"), sockets.Raw)
	fmt.Println(good.Value(ctx))
	fmt.Println(bad.Value(ctx))
	// Output:
	// hello <nil>
	//  bad length prefix
}

// Many aios signal one condition variable; the waiter wakes once per
// completion, whatever its outcome.
func ExampleCV() {
	pull, _ := sockets.New(sockets.Pull, sockets.Listen("inproc://example-aio-cv"))
	defer pull.Close()
	push, _ := sockets.New(sockets.Push, sockets.Dial("inproc://example-aio-cv", sockets.Sync))
	defer push.Close()

	ctx := context.Background()
	cv := aio.NewCV()
	a := aio.Recv[int](pull, aio.Signal(cv))
	b := aio.Recv[int](pull, aio.Signal(cv))
	_ = push.Send(ctx, 1)
	_ = push.Send(ctx, 2)
	cv.Wait(ctx)
	cv.Wait(ctx)
	fmt.Println(aio.Unresolved(a, b), cv.Value())

	vals, errs := aio.CollectAll(ctx, []*aio.Aio[int]{a, b})
	fmt.Println(vals[0]+vals[1], errs)

	fmt.Println(cv.Until(10 * time.Millisecond))
	// Output:
	// false 0
	// 3 []
	// false
}

// A monitor records connections as +id when they come and -id when they
// go; its CV wakes a waiter for each.
func ExampleMonitor() {
	srv, _ := sockets.New(sockets.Poly, sockets.Listen("inproc://example-aio-monitor"))
	defer srv.Close()

	ctx := context.Background()
	cv := aio.NewCV()
	m, err := aio.NewMonitor(srv, cv)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	peer, _ := sockets.New(sockets.Poly, sockets.Dial("inproc://example-aio-monitor", sockets.Sync))
	cv.Wait(ctx)
	added := m.Read()
	_ = peer.Close()
	cv.Wait(ctx)
	removed := m.Read()
	fmt.Println(len(added), added[0] > 0, len(removed), removed[0] == -added[0])
	// Output: 1 true 1 true
}

// PipeNotify with PipeFlag: a waiter on the CV learns that the peer left
// (Wait returns false) instead of waiting for a reply that cannot come.
func ExamplePipeNotify() {
	rep, _ := sockets.New(sockets.Rep, sockets.Listen("inproc://example-aio-notify"))
	defer rep.Close()

	ctx := context.Background()
	joined, left := aio.NewCV(), aio.NewCV()
	stopJoined, _ := aio.PipeNotify(rep, joined, aio.PipeAdd)
	defer stopJoined()
	stopLeft, _ := aio.PipeNotify(rep, left, aio.PipeRemove|aio.PipeFlag)
	defer stopLeft()

	client, _ := sockets.New(sockets.Req, sockets.Dial("inproc://example-aio-notify", sockets.Sync))
	fmt.Println(joined.Wait(ctx))

	r := aio.Recv[string](rep, aio.Signal(left))
	_ = client.Close()
	fmt.Println(left.Wait(ctx), r.Resolved())
	r.Stop()
	// Output:
	// true
	// false false
}

// square is a unit of work that embeds the aio reporting its result, so
// that the two take one allocation; it is the aio's owner.
type square struct {
	aio.Owned[int]
	n       int
	stopped atomic.Bool
}

// Stopped is told when the aio is stopped first: the work is abandoned.
func (s *square) Stopped(err error) error {
	s.stopped.Store(true)
	return err
}

func ExampleOwned() {
	s := &square{n: 7}
	a := s.Init(s) // hand a out; s resolves it
	go func() { s.Resolve(s.n*s.n, nil) }()
	v, err := a.Value(context.Background())
	fmt.Println(v, err)

	t := &square{n: 8}
	b := t.Init(t)
	b.Stop() // before any Resolve: t is told, and the aio resolves cancelled
	_, err = b.Result()
	fmt.Println(t.stopped.Load(), errors.Is(err, nanoact.ErrCanceled), t.Resolve(64, nil))
	// Output:
	// 49 <nil>
	// true true false
}
