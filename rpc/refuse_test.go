package rpc

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact/sockets"
)

// A peer that stays connected after being refused (bad token) is closed
// once the hello time-out has passed again.
func TestRefusedPeerClosed(t *testing.T) {
	d, err := NewDispatcher("", HelloTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	peer, err := sockets.New(sockets.Poly)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	var dropped atomic.Int32
	if _, err := peer.WatchPipes(func(ev sockets.PipeEvent) {
		if !ev.Added {
			dropped.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Dial(d.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	m := sockets.NewMsg(nil)
	m.Body = appendHello(m.Body[:0], "not the token", "intruder", 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := peer.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	refusal, err := peer.Recv(ctx) // the refusal arrives; the peer ignores it
	if err != nil {
		t.Fatal(err)
	}
	refusal.Free()
	for dropped.Load() == 0 {
		if ctx.Err() != nil {
			t.Fatal("the refused connection was not closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = peer.Close() // its dialer would come back, silent
	if s, err := d.Status(ctx); err != nil || s.Refused != 1 {
		t.Fatalf("status %+v %v", s, err)
	}
}
