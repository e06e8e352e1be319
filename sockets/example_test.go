package sockets_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// A request/reply round trip over inproc: serial mode carries Go values.
func ExampleNew() {
	rep, err := sockets.New(sockets.Rep, sockets.Listen("inproc://example-new"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rep.Close()
	req, err := sockets.New(sockets.Req, sockets.Dial("inproc://example-new", sockets.Sync))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer req.Close()

	ctx := context.Background()
	_ = req.Send(ctx, map[string]int{"x": 6})
	q, _ := sockets.RecvAs[map[string]int](ctx, rep)
	_ = rep.Send(ctx, q["x"]*7)
	answer, _ := sockets.RecvAs[int](ctx, req)
	fmt.Println(answer)
	// Output: 42
}

// nanonext's default is not to wait: NonBlock gives "try again" when
// nothing can happen now, and a deadline gives "timed out".
func ExampleNonBlock() {
	pull, _ := sockets.New(sockets.Pull)
	defer pull.Close()

	_, err := pull.Recv(sockets.NonBlock(context.Background()))
	fmt.Println(errors.Is(err, nanoact.ErrTryAgain), err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = pull.Recv(ctx)
	fmt.Println(errors.Is(err, nanoact.ErrTimedOut), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// true sockets: recv: 8 | Try again
	// true true
}

// Raw mode sends bytes that C, Python and R peers read directly: numbers
// as little-endian values, strings with a trailing NUL.
func ExampleSocket_Send_raw() {
	pull, _ := sockets.New(sockets.Pull, sockets.Listen("inproc://example-raw"))
	defer pull.Close()
	push, _ := sockets.New(sockets.Push, sockets.Dial("inproc://example-raw", sockets.Sync))
	defer push.Close()

	ctx := context.Background()
	_ = push.Send(ctx, []float64{1, 2.5}, sockets.Raw)
	m, _ := pull.Recv(ctx)
	fmt.Println(len(m.Body), "bytes")
	v, _ := sockets.Decode[[]float64](m, sockets.Double, nil)
	fmt.Println(v)

	_ = push.Send(ctx, []byte{1, 2, 3}, sockets.Raw)
	_, err := sockets.RecvAs[[]float64](ctx, pull, sockets.Raw)
	var ce *nanoact.ConvertError
	if errors.As(err, &ce) {
		fmt.Println(err, ce.Data)
	}
	// Output:
	// 16 bytes
	// [1 2.5]
	// sockets: recv: received data could not be converted to double (want []float64) [1 2 3]
}

// Subscribers receive the messages that start with one of their topics.
// Topics match raw bytes, so the pub sends in Raw mode, here by default
// (a serial payload starts with the serial marker and matches no topic).
func ExampleSocket_Subscribe() {
	pub, _ := sockets.New(sockets.Pub, sockets.Listen("inproc://example-sub"), sockets.WithSendMode(sockets.Raw))
	defer pub.Close()
	sub, _ := sockets.New(sockets.Sub, sockets.Dial("inproc://example-sub", sockets.Sync))
	defer sub.Close()
	_ = sub.Subscribe("weather")
	for pub.Pipes() == 0 { // pub drops messages sent before the connection is up
		time.Sleep(time.Millisecond)
	}

	ctx := context.Background()
	_ = pub.Send(ctx, []string{"sport", "3-1"})
	_ = pub.Send(ctx, []string{"weather", "sunny"})
	v, _ := sockets.RecvAs[[]string](ctx, sub, sockets.Raw)
	fmt.Println(v)
	// Output: [weather sunny]
}

// bodies is a Receiver that hands each message's body to a channel.
type bodies chan string

func (b bodies) Received(m *sockets.Msg, err error) {
	if err != nil {
		b <- "error: " + err.Error()
		return
	}
	b <- string(m.Body)
	m.Free()
}

// A receive started before any message exists waits in the socket's queue
// with no goroutine; the connection's reader completes it. Cancel takes
// back one still waiting.
func ExampleSocket_RecvAsync() {
	pull, _ := sockets.New(sockets.Pull, sockets.Listen("inproc://example-recv-async"))
	defer pull.Close()
	push, _ := sockets.New(sockets.Push, sockets.Dial("inproc://example-recv-async", sockets.Sync))
	defer push.Close()

	got := make(bodies, 1)
	var first, second sockets.RecvOp
	pull.RecvAsync(&first, got)
	pull.RecvAsync(&second, got)
	fmt.Println("second cancelled:", second.Cancel())

	_ = push.Send(context.Background(), []byte("hello"), sockets.Raw)
	fmt.Println(<-got)
	// Output:
	// second cancelled: true
	// hello
}

// A reply staged on a rep socket answers its request at once, so that the
// socket can take the next request before the reply is queued.
func ExampleSocket_StageSend() {
	rep, _ := sockets.New(sockets.Rep, sockets.Listen("inproc://example-stage"))
	defer rep.Close()
	req, _ := sockets.New(sockets.Req, sockets.Dial("inproc://example-stage", sockets.Sync))
	defer req.Close()

	ctx := context.Background()
	_ = req.Send(ctx, "question")
	q, _ := sockets.RecvAs[string](ctx, rep)
	queue, err := rep.StageSend(sockets.NewMsg([]byte("answer to " + q)))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = rep.Recv(sockets.NonBlock(ctx)) // the request is answered: rep may receive again
	fmt.Println(nanoact.CodeOf(err))
	if err := queue(ctx); err != nil {
		fmt.Println(err)
		return
	}
	a, _ := sockets.RecvAs[string](ctx, req, sockets.String)
	fmt.Println(a)
	// Output:
	// 8 | Try again
	// answer to question
}
