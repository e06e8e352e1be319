package sockets_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/nanoact/nanoact/sockets"
)

// Contexts give one socket several independent request/reply state
// machines: three requesters share one req socket, and two servers share
// one rep socket, each reply finding its own requester.
func ExampleSocket_Context() {
	rep, err := sockets.New(sockets.Rep, sockets.Listen("inproc://example-context"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rep.Close()
	req, err := sockets.New(sockets.Req, sockets.Dial("inproc://example-context", sockets.Sync))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer req.Close()
	ctx := context.Background()

	// Two servers, each on its own rep context, answer in upper case until
	// their socket closes.
	var servers sync.WaitGroup
	for range 2 {
		c, err := rep.Context()
		if err != nil {
			fmt.Println(err)
			return
		}
		servers.Go(func() {
			for {
				q, err := sockets.RecvAs[string](ctx, c)
				if err != nil {
					return // ErrClosed once rep closes
				}
				_ = c.Send(ctx, strings.ToUpper(q))
			}
		})
	}
	defer servers.Wait()
	defer rep.Close() // before Wait: ends the servers' receives

	// Three requests in flight at once, one per req context.
	words := []string{"alpha", "beta", "gamma"}
	answers := make([]string, len(words))
	var clients sync.WaitGroup
	for i, w := range words {
		c, err := req.Context()
		if err != nil {
			fmt.Println(err)
			return
		}
		clients.Go(func() {
			defer c.Close()
			if err := c.Send(ctx, w); err != nil {
				answers[i] = err.Error()
				return
			}
			answers[i], err = sockets.RecvAs[string](ctx, c)
			if err != nil {
				answers[i] = err.Error()
			}
		})
	}
	clients.Wait()
	fmt.Println(answers)
	// Output: [ALPHA BETA GAMMA]
}

// A byte stream is a plain connection with no SP framing, for talking to
// programs that are not NNG peers (here both ends are ours, over tcp).
// Everything sent on a stream is raw bytes.
func ExampleDialStream() {
	l, err := sockets.ListenStream("tcp://127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()

	served := make(chan error, 1)
	go func() {
		s, err := l.Accept(ctx)
		if err != nil {
			served <- err
			return
		}
		defer s.Close()
		m, err := s.Recv(ctx)
		if err != nil {
			served <- err
			return
		}
		served <- s.Send(ctx, append([]byte("echo: "), m.Body...))
	}()

	s, err := sockets.DialStream(ctx, l.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	if err := s.Send(ctx, []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	m, err := s.Recv(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", m.Body)
	fmt.Println(<-served)
	// Output:
	// echo: hello
	// <nil>
}
