package aio_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// A request broker: clients dial a raw rep socket, workers dial a raw req
// socket, and a device forwards requests one way and replies the other.
func ExampleDevice() {
	front, _ := sockets.New(sockets.Rep, sockets.WithRaw(), sockets.Listen("inproc://example-device-front"))
	defer front.Close()
	back, _ := sockets.New(sockets.Req, sockets.WithRaw(), sockets.Listen("inproc://example-device-back"))
	defer back.Close()
	dev := aio.Device(front, back)

	worker, _ := sockets.New(sockets.Rep, sockets.Dial("inproc://example-device-back", sockets.Sync))
	defer worker.Close()
	client, _ := sockets.New(sockets.Req, sockets.Dial("inproc://example-device-front", sockets.Sync))
	defer client.Close()

	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		n, _ := sockets.RecvAs[int](ctx, worker)
		_ = worker.Send(ctx, n*n)
	}()
	_ = client.Send(ctx, 7)
	sq, err := sockets.RecvAs[int](ctx, client)
	fmt.Println(sq, err)
	<-done

	dev.Stop() // forwarding stops; both sockets stay open
	_, err = dev.Result()
	fmt.Println(errors.Is(err, nanoact.ErrCanceled))
	// Output:
	// 49 <nil>
	// true
}
