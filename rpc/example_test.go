package rpc_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

// A Server answers requests with a typed handler run by a pool of
// supervised workers; nanonext's request() and rpc.Client can call it. A
// handler's error (or panic) goes back as nanonext's error reply.
func ExampleServer() {
	srv, err := rpc.NewServer(func(_ context.Context, n int) (int, error) {
		if n < 0 {
			return 0, errors.New("negative")
		}
		return n * n, nil
	}, rpc.WithWorkers(2), rpc.WithListen("inproc://example-server"))
	if err != nil {
		panic(err)
	}
	fmt.Println(srv.URL())

	// A plain req socket calls it, as nanonext's request() would.
	req, err := sockets.New(sockets.Req, sockets.Dial(srv.URL(), sockets.Sync))
	if err != nil {
		panic(err)
	}
	defer req.Close()
	ctx := context.Background()
	v, err := rpc.Request[int](req, 12).Value(ctx)
	fmt.Println(v, err)

	// Shutdown stops taking requests and waits for those being served.
	fmt.Println(srv.Shutdown(ctx))
	// Output:
	// inproc://example-server
	// 144 <nil>
	// <nil>
}

// A Client makes concurrent calls over one req socket, each on its own
// context: Call waits for the reply, Go returns an aio at once. A
// handler that failed comes back as ErrRemote.
func ExampleClient() {
	srv, err := rpc.NewServer(func(_ context.Context, s string) (string, error) {
		if s == "" {
			return "", errors.New("empty")
		}
		return "hello " + s, nil
	}, rpc.WithListen("inproc://example-client"))
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	c, err := rpc.NewClient(sockets.Dial("inproc://example-client", sockets.Sync))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()

	fmt.Println(rpc.Call[string](ctx, c, "world"))
	a, b := rpc.Go[string](c, "a"), rpc.Go[string](c, "b")
	va, _ := a.Value(ctx)
	vb, _ := b.Value(ctx)
	fmt.Println(va, "/", vb)
	_, err = rpc.Call[string](ctx, c, "")
	fmt.Println(errors.Is(err, rpc.ErrRemote))
	fmt.Println(err)
	// Output:
	// hello world <nil>
	// hello a / hello b
	// true
	// rpc: request: the server's handler failed (returned an error or panicked)
}
