package actor_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nanoact/nanoact/actor"
)

// greeter answers a name with a greeting and counts the greetings; its
// state needs no lock because the actor handles one message at a time.
type greeter struct{ count int }

func (g *greeter) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		fmt.Println("started")
	case string:
		g.count++
		c.Respond(fmt.Sprintf("hello %s (#%d)", m, g.count))
	case actor.Stopped:
		fmt.Println("stopped")
	}
}

func ExampleSystem_Spawn() {
	s := actor.NewSystem()
	defer s.Close()

	ref, err := s.Spawn("greeter", &greeter{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	for _, name := range []string{"ann", "bob"} {
		reply, err := actor.RequestAs[string](ctx, ref, name)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(reply)
	}
	fmt.Println(ref.Stop(ctx))
	// Output:
	// started
	// hello ann (#1)
	// hello bob (#2)
	// stopped
	// <nil>
}

func ExampleRef_Call() {
	s := actor.NewSystem()
	defer s.Close()

	// A component keeps its control state in an actor and changes it only
	// through Call, so dial, listen and close never race.
	var listeners []string
	ref, _ := s.Spawn("", actor.ReceiveFunc(func(*actor.Context) {}))
	ctx := context.Background()
	for _, url := range []string{"inproc://a", "inproc://b"} {
		_ = ref.Call(ctx, func() { listeners = append(listeners, url) })
	}
	var n int
	_ = ref.Call(ctx, func() { n = len(listeners) })
	fmt.Println(n, "listeners")
	// Output: 2 listeners
}
