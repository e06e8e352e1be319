package sockets

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
)

// fakePipe is a mangos pipe that exists only for the tracker's hook.
type fakePipe struct {
	id uint32
	d  mangos.Dialer
}

func (p *fakePipe) ID() uint32                    { return p.id }
func (p *fakePipe) Address() string               { return "inproc://fake" }
func (p *fakePipe) GetOption(string) (any, error) { return nil, errors.New("no options") }
func (p *fakePipe) Listener() mangos.Listener     { return nil }
func (p *fakePipe) Dialer() mangos.Dialer         { return p.d }
func (p *fakePipe) Close() error                  { return nil }

type fakeDialer struct{ mangos.Dialer }

// mangos runs a pipe's Detached hook on a goroutine of its own, which may
// run after the dialer has redialled and attached its next pipe (seen in
// CI: a daemon ignored its new connection, still holding the old one).
// Watchers still see the old pipe go before the new one comes, and the
// late hook reports nothing twice.
func TestWatchPipesDialerOrder(t *testing.T) {
	s, err := New(Pair)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var got []PipeEvent
	more := make(chan struct{}, 16)
	stop, err := s.WatchPipes(func(ev PipeEvent) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		more <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	wait := func(want ...PipeEvent) {
		t.Helper()
		for {
			mu.Lock()
			ok := len(got) >= len(want)
			mu.Unlock()
			if ok {
				break
			}
			select {
			case <-more:
			case <-time.After(10 * time.Second):
				t.Fatalf("events %v, want %v", got, want)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		got = nil
	}
	d := &fakeDialer{}
	old, nw := &fakePipe{id: 101, d: d}, &fakePipe{id: 102, d: d}
	other := &fakePipe{id: 201, d: &fakeDialer{}} // another dialer's: left alone
	s.pipes.hook(mangos.PipeEventAttached, other)
	s.pipes.hook(mangos.PipeEventAttached, old)
	wait(PipeEvent{Pipe: 201, Added: true}, PipeEvent{Pipe: 101, Added: true})

	s.pipes.hook(mangos.PipeEventAttached, nw) // old's Detached has not run
	wait(PipeEvent{Pipe: 101}, PipeEvent{Pipe: 102, Added: true})
	s.pipes.hook(mangos.PipeEventDetached, old) // late: already reported
	s.pipes.hook(mangos.PipeEventDetached, nw)
	s.pipes.hook(mangos.PipeEventDetached, other)
	wait(PipeEvent{Pipe: 102}, PipeEvent{Pipe: 201})
	s.pipes.mu.Lock()
	defer s.pipes.mu.Unlock()
	if len(s.pipes.live) != 0 || len(s.pipes.stale) != 0 || len(s.pipes.early) != 0 {
		t.Fatalf("tracker left live %v stale %v early %v", s.pipes.live, s.pipes.stale, s.pipes.early)
	}
}

// A pipe closed before mangos ran its Attached hook (the Detached hook,
// on its own goroutine, came first: a peer whose first message broke a
// receive gate) is still reported to watchers, arriving then leaving, as
// NNG reports a pipe's removal whenever its addition began (TestRecvGate
// waited for the removal in vain, 1 in 10 runs under load).
func TestWatchPipesClosedBeforeAttached(t *testing.T) {
	s, err := New(Pair)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan PipeEvent, 4)
	stop, err := s.WatchPipes(func(ev PipeEvent) { got <- ev })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	d := &fakeDialer{}
	prev, p := &fakePipe{id: 300, d: d}, &fakePipe{id: 301, d: d}
	s.pipes.hook(mangos.PipeEventAttached, prev)
	// The dialer's next pipe closes at once, before its Attached hook and
	// before prev's late Detached: prev still goes first.
	s.pipes.hook(mangos.PipeEventDetached, p)
	s.pipes.hook(mangos.PipeEventAttached, p)
	s.pipes.hook(mangos.PipeEventDetached, prev)
	for _, want := range []PipeEvent{{Pipe: 300, Added: true}, {Pipe: 300}, {Pipe: 301, Added: true}, {Pipe: 301}} {
		select {
		case ev := <-got:
			if ev != want {
				t.Fatalf("event %v, want %v", ev, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event, want %v", want)
		}
	}
	s.pipes.mu.Lock()
	defer s.pipes.mu.Unlock()
	if len(s.pipes.live) != 0 || len(s.pipes.early) != 0 || len(s.pipes.stale) != 0 {
		t.Fatalf("tracker left live %v early %v stale %v", s.pipes.live, s.pipes.early, s.pipes.stale)
	}
}
