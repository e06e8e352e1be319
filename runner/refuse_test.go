package runner

import (
	"context"
	"testing"
	"time"

	"github.com/nanoact/nanoact/sockets"
)

// A peer that stays connected after being refused (bad token) is closed
// once the hello time-out has passed again.
func TestRefusedPeerClosed(t *testing.T) {
	d, err := NewDispatcher("", WithHelloTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	peer, err := sockets.New(sockets.Poly)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	dropped := make(chan struct{}, 16)
	if _, err := peer.WatchPipes(func(ev sockets.PipeEvent) {
		if !ev.Added {
			dropped <- struct{}{}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Dial(d.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := peer.Recv(ctx) // the challenge
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeFrame(ch.Body)
	if err != nil || c.kind != kindChallenge {
		t.Fatalf("challenge %+v %v", c, err)
	}
	m := sockets.NewMsg(nil)
	m.Body = appendHello(m.Body[:0], helloMAC("not the token", c.nonce, "intruder", 1, 0), "intruder", 1, 0)
	ch.Free()
	if err := peer.SendMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	refusal, err := peer.Recv(ctx) // the refusal arrives; the peer ignores it
	if err != nil {
		t.Fatal(err)
	}
	refusal.Free()
	select {
	case <-dropped:
	case <-ctx.Done():
		t.Fatal("the refused connection was not closed")
	}
	_ = peer.Close() // its dialer would come back, silent
	if s, err := d.Status(ctx); err != nil || s.Refused != 1 {
		t.Fatalf("status %+v %v", s, err)
	}
}
