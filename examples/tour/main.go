// Command tour is a short walk through nanoact's sockets: request/reply,
// a push/pull pipeline, publish/subscribe with topics, and a survey that
// times out. It prints what happens at each step.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"req/rep", reqRep},
		{"push/pull", pushPull},
		{"pub/sub", pubSub},
		{"surveyor/respondent", survey},
	}
	for _, s := range steps {
		fmt.Printf("== %s\n", s.name)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	fmt.Println("== done")
	return nil
}

// must opens a socket or exits.
func must(s *sockets.Socket, err error) *sockets.Socket {
	if err != nil {
		log.Fatal(err)
	}
	return s
}

func reqRep(ctx context.Context) error {
	rep := must(sockets.New(sockets.Rep, sockets.Listen("tcp://127.0.0.1:0")))
	defer rep.Close()
	url := rep.Listeners()[0].URL()
	req := must(sockets.New(sockets.Req, sockets.Dial(url, sockets.Sync)))
	defer req.Close()
	fmt.Printf("rep listens on %s; req dialled it\n", url)

	// The server answers in the background: serial mode carries Go values.
	done := make(chan error, 1)
	go func() {
		for range 2 {
			n, err := sockets.RecvAs[int](ctx, rep)
			if err != nil {
				done <- err
				return
			}
			if err := rep.Send(ctx, map[string]int{"n": n, "square": n * n}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for _, n := range []int{7, 12} {
		if err := req.Send(ctx, n); err != nil {
			return err
		}
		reply, err := sockets.RecvAs[map[string]int](ctx, req)
		if err != nil {
			return err
		}
		fmt.Printf("req sent %d, rep answered %v\n", n, reply)
	}
	// Receiving again without a request is a state error, as in NNG.
	_, err := req.Recv(sockets.NonBlock(ctx))
	fmt.Printf("req receives with no request outstanding: %v\n", err)
	return <-done
}

func pushPull(ctx context.Context) error {
	url := "ipc://" + os.TempDir() + fmt.Sprintf("/nanoact-tour-%d.ipc", os.Getpid())
	pull := must(sockets.New(sockets.Pull, sockets.Listen(url)))
	defer pull.Close()
	// Non-blocking is nanonext's default: nothing waiting means "try again".
	_, err := pull.Recv(sockets.NonBlock(ctx))
	fmt.Printf("pull with nothing waiting: %v\n", err)

	push := must(sockets.New(sockets.Push, sockets.Dial(url, sockets.Sync)))
	defer push.Close()
	// Raw mode: numeric slices go as little-endian bytes, readable by C, R
	// and numpy peers.
	if err := push.Send(ctx, []float64{1.5, 2.5, 4}, sockets.Raw); err != nil {
		return err
	}
	if err := push.Send(ctx, []string{"a", "", "c"}, sockets.Raw); err != nil {
		return err
	}
	v, err := sockets.RecvAs[[]float64](ctx, pull, sockets.Raw)
	if err != nil {
		return err
	}
	fmt.Printf("pull got doubles %v over %s\n", v, url)
	s, err := sockets.RecvAs[[]string](ctx, pull, sockets.Raw)
	if err != nil {
		return err
	}
	fmt.Printf("pull got strings %q\n", s)
	return nil
}

func pubSub(ctx context.Context) error {
	url := "inproc://tour-news"
	pub := must(sockets.New(sockets.Pub, sockets.Listen(url)))
	defer pub.Close()
	sub := must(sockets.New(sockets.Sub, sockets.Dial(url, sockets.Sync)))
	defer sub.Close()
	if err := sub.Subscribe("weather"); err != nil {
		return err
	}
	// pub drops what it sends before a subscriber's connection is up.
	for pub.Pipes() < 1 {
		time.Sleep(time.Millisecond)
	}
	for _, msg := range [][]string{{"sport", "3-1"}, {"weather", "sunny"}, {"weather", "rain later"}} {
		if err := pub.Send(ctx, msg, sockets.Raw); err != nil {
			return err
		}
		fmt.Printf("pub sent %q\n", msg)
	}
	for range 2 {
		v, err := sockets.RecvAs[[]string](ctx, sub, sockets.Raw)
		if err != nil {
			return err
		}
		fmt.Printf("sub (topic weather) got %q\n", v)
	}
	_, err := sub.Recv(sockets.NonBlock(ctx))
	fmt.Printf("sub has nothing more (sport was filtered out): %v\n", err)
	return nil
}

func survey(ctx context.Context) error {
	url := "inproc://tour-survey"
	sur := must(sockets.New(sockets.Surveyor, sockets.Listen(url)))
	defer sur.Close()
	if err := sur.SetSurveyTime(200 * time.Millisecond); err != nil {
		return err
	}
	var resps []*sockets.Socket
	for range 3 {
		r := must(sockets.New(sockets.Respondent, sockets.Dial(url, sockets.Sync)))
		defer r.Close()
		resps = append(resps, r)
	}
	for sur.Pipes() < 3 {
		time.Sleep(time.Millisecond)
	}
	if err := sur.Send(ctx, "who is there?"); err != nil {
		return err
	}
	// Two respondents answer; the third stays silent.
	for i, r := range resps[:2] {
		q, err := sockets.RecvAs[string](ctx, r)
		if err != nil {
			return err
		}
		if err := r.Send(ctx, fmt.Sprintf("respondent %d heard %q", i+1, q)); err != nil {
			return err
		}
	}
	for {
		a, err := sockets.RecvAs[string](ctx, sur)
		if errors.Is(err, nanoact.ErrTimedOut) {
			fmt.Printf("survey over after 200ms: %v\n", err)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Printf("surveyor got: %s\n", a)
	}
}
