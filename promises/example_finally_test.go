package promises_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/nanoact/nanoact/promises"
)

// Catch turns a rejection back into a value (here a default), or passes
// it on by returning an error; a resolved promise skips it.
func ExamplePromise_Catch() {
	l, err := promises.NewLoop()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()

	fallback := func(err error) (int, error) {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, err // not ours to recover: passed on
		}
		return -1, nil
	}
	fmt.Println(promises.Rejected[int](l, errors.New("no such key")).Catch(fallback).Await(ctx))
	fmt.Println(promises.Rejected[int](l, context.DeadlineExceeded).Catch(fallback).Await(ctx))
	fmt.Println(promises.Resolved(l, 7).Catch(fallback).Await(ctx))
	// Output:
	// -1 <nil>
	// 0 context deadline exceeded
	// 7 <nil>
}

// Finally runs on the loop once the promise settles, whichever way, and
// passes the outcome on unchanged: the place to release what a chain
// held.
func ExamplePromise_Finally() {
	l, err := promises.NewLoop()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	ctx := context.Background()

	ok := promises.Resolved(l, "done").Finally(func() { fmt.Println("released (resolved)") })
	fmt.Println(ok.Await(ctx))
	failed := promises.Rejected[string](l, errors.New("refused")).Finally(func() { fmt.Println("released (rejected)") })
	fmt.Println(failed.Await(ctx))
	// Output:
	// released (resolved)
	// done <nil>
	// released (rejected)
	//  refused
}
