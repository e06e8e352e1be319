// Command pipeline runs an asynchronous pipeline: jobs fan out over
// push/pull to three workers, results fan back in to a collector, and each
// result is handled by a promise chain (decode, check, format) whose
// failures are caught, all on one event loop. It prints what it did.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/promises"
	"github.com/nanoact/nanoact/sockets"
)

type job struct {
	ID int
	N  float64
}

type result struct {
	ID     int
	Worker int
	Root   float64
	Err    string
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	jobs, err := sockets.New(sockets.Push, sockets.Listen("inproc://pipeline-jobs"))
	if err != nil {
		return err
	}
	defer jobs.Close()
	collector, err := sockets.New(sockets.Pull, sockets.Listen("inproc://pipeline-results"))
	if err != nil {
		return err
	}
	defer collector.Close()

	// Three workers: each pulls jobs and pushes results back.
	var workers sync.WaitGroup
	wctx, stopWorkers := context.WithCancel(ctx)
	defer func() { stopWorkers(); workers.Wait() }()
	for w := 1; w <= 3; w++ {
		in, err := sockets.New(sockets.Pull, sockets.Dial("inproc://pipeline-jobs", sockets.Sync))
		if err != nil {
			return err
		}
		out, err := sockets.New(sockets.Push, sockets.Dial("inproc://pipeline-results", sockets.Sync))
		if err != nil {
			return err
		}
		workers.Go(func() {
			defer in.Close()
			defer out.Close()
			for {
				j, err := sockets.RecvAs[job](wctx, in)
				if err != nil {
					return
				}
				r := result{ID: j.ID, Worker: w}
				if j.N < 0 {
					r.Err = fmt.Sprintf("job %d: no real square root of %g", j.ID, j.N)
				} else {
					r.Root = math.Sqrt(j.N)
				}
				if out.Send(wctx, r) != nil {
					return
				}
			}
		})
	}
	for jobs.Pipes() < 3 || collector.Pipes() < 3 {
		time.Sleep(time.Millisecond)
	}

	// One receive aio per expected result, each turned into a promise
	// chain; the chains run on the loop, one continuation at a time.
	loop, err := promises.NewLoop()
	if err != nil {
		return err
	}
	defer loop.Close()
	inputs := []float64{1, 4, 9, -1, 16, 2, -9, 100}
	var lines []*promises.Promise[string]
	for range inputs {
		r := aio.Recv[result](collector, aio.Timeout(5*time.Second))
		line := promises.Then(aio.Promise(r, loop), func(r result) (string, error) {
			if r.Err != "" {
				return "", errors.New(r.Err)
			}
			return fmt.Sprintf("job %d: sqrt = %.4f (worker %d)", r.ID, r.Root, r.Worker), nil
		}).Catch(func(err error) (string, error) {
			return "caught: " + err.Error(), nil
		})
		lines = append(lines, line)
	}
	for i, n := range inputs {
		if err := jobs.Send(ctx, job{ID: i, N: n}); err != nil {
			return err
		}
	}
	fmt.Printf("sent %d jobs to 3 workers over push/pull\n", len(inputs))

	all, err := promises.All(lines...).Await(ctx)
	if err != nil {
		return err
	}
	sort.Strings(all) // results arrive in whatever order the workers finish
	for _, l := range all {
		fmt.Println(l)
	}
	st := loop.Stats()
	fmt.Printf("%d results through promise chains; the loop ran %d continuations\n", len(all), st.Run)
	return nil
}
