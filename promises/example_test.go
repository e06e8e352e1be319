package promises_test

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nanoact/nanoact/promises"
)

func ExampleThen() {
	l, err := promises.NewLoop()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	// A completion source (here a goroutine) settles the promise; the
	// continuations run on the loop, one at a time.
	p, resolve, _ := promises.NewResolver[string](l)
	n := promises.Then(p, strconv.Atoi) // string -> int
	sq := n.Then(func(v int) (int, error) { return v * v, nil })
	go resolve("12")

	ctx := context.Background()
	fmt.Println(sq.Await(ctx))

	// A rejection skips the Thens down to the first Catch.
	bad := promises.Then(promises.Resolved(l, "twelve"), strconv.Atoi).
		Then(func(v int) (int, error) { return v * v, nil }).
		Catch(func(err error) (int, error) {
			fmt.Println("caught:", err)
			return -1, nil
		})
	fmt.Println(bad.Await(ctx))
	// Output:
	// 144 <nil>
	// caught: strconv.Atoi: parsing "twelve": invalid syntax
	// -1 <nil>
}

func ExampleAll() {
	l, err := promises.NewLoop()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	var ps []*promises.Promise[int]
	for i := 1; i <= 3; i++ {
		ps = append(ps, promises.New(l, func(resolve func(int), _ func(error)) {
			go resolve(i * 10) // settled in any order...
		}))
	}
	sum := promises.Then(promises.All(ps...), func(vs []int) (string, error) {
		return fmt.Sprint(vs), nil // ...reported in input order
	})
	fmt.Println(sum.Await(context.Background()))
	// Output: [10 20 30] <nil>
}

func ExampleWithContext() {
	l, err := promises.NewLoop()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	slow, resolve, _ := promises.NewResolver[string](l) // never settled in time
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()

	v, err := promises.WithContext(ctx, slow).Await(context.Background())
	fmt.Printf("%q %v\n", v, err)
	resolve("late") // the operation itself was not cancelled
	fmt.Println(slow.Await(context.Background()))
	// Output:
	// "" promises: with context: 5 | Timed out: context deadline exceeded
	// late <nil>
}
