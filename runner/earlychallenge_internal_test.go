package runner

import (
	"testing"
	"time"

	"github.com/nanoact/nanoact/sockets"
)

// A new connection's challenge can be handled (on its pipe reader)
// before the old connection's removal event reaches the daemon: the
// daemon keeps it and answers once the new connection's event comes,
// instead of dropping it and waiting for a challenge that never comes.
func TestDaemonChallengeBeforeOldPipeRemoved(t *testing.T) {
	t.Parallel()
	d, err := NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dm, err := NewDaemon(NewRegistry(), d.URL(), WithToken(d.Token()))
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	deadline := time.Now().Add(10 * time.Second)
	var old uint32
	for old == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the daemon's connection never came")
		}
		dm.mu.Lock()
		old = dm.pipe
		dm.mu.Unlock()
		time.Sleep(time.Millisecond) // no event marks dm.pipe being set: poll
	}
	nw := old + 1000 // a later connection's pipe id
	c, err := decodeFrame(appendChallenge(nil, make([]byte, nonceSize), DefaultMaxFrame))
	if err != nil {
		t.Fatal(err)
	}
	// The events in the order that loses the challenge: its message
	// first, then the old pipe's removal, then the new pipe's arrival.
	dm.answer(nw, &c)
	dm.onPipe(sockets.PipeEvent{Pipe: old})
	dm.onPipe(sockets.PipeEvent{Pipe: nw, Added: true})
	dm.mu.Lock()
	waiting := dm.chal != nil
	dm.mu.Unlock()
	if waiting {
		t.Fatal("the new connection's challenge was dropped: the daemon waits for another")
	}
}
