package cv_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/nanoact/nanoact/cv"
)

// A supervisor broadcasts its children's events; a waiter tells a crash
// (Wait false, Err the cause) from a normal stop (Wait true, Last).
func ExampleBroadcaster() {
	ctx := context.Background()
	var sup cv.Broadcaster
	c := cv.New()
	unregister := sup.Register(c)
	defer unregister()

	sup.Broadcast(cv.Event{Kind: cv.Stopped, Child: "worker-1"})
	fmt.Println(c.Wait(ctx), c.Last().Kind, c.Err())

	sup.Broadcast(cv.Event{Kind: cv.Failed, Child: "worker-2", Err: errors.New("out of memory")})
	fmt.Println(c.Wait(ctx), c.Last().Kind, c.Err())

	c.Reset()
	_ = sup.Close()
	fmt.Println(c.Wait(ctx), c.Last().Kind, c.Err())
	// Output:
	// true stopped <nil>
	// false failed out of memory
	// true closed <nil>
}
