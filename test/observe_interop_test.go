package test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// A connection from nngcat has its own statistics and addresses: our pub
// counts what it sent to that subscriber alone.
func TestPipeStatsNngcat(t *testing.T) {
	testkit.Nngcat(t)
	t.Parallel()
	pub := open(t, sockets.Pub)
	l, err := pub.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cat := startNngcat(t, nil, args("--sub", "--dial", l.URL(), "--subscribe", "", "--raw")...)
	waitPipes(t, pub, 1)
	ctx := ctxT(t)
	for _, m := range []string{"m1", "m2", "m3"} {
		if err := pub.Send(ctx, []byte(m), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	wantBytes(t, "what nngcat printed", cat.waitOutput(t, 6), []byte("m1m2m3"))
	p, err := pub.Pipe(pub.PipeIDs()[0])
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "three messages counted on the pipe", func() bool { n, _ := p.Stat("tx_msgs"); return n == 3 })
	st := p.Stats()
	if st["tx_bytes"] != 6 || st["rx_msgs"] != 0 || st["listener"] != int64(l.ID()) || st["socket"] != int64(pub.ID()) {
		t.Fatalf("pipe stats %v", st)
	}
	ss := p.StringStats()
	if ss["url"] != l.URL() || !strings.HasPrefix(ss["remote_address"], "127.0.0.1:") || ss["local_address"] != strings.TrimPrefix(l.URL(), "tcp://") {
		t.Fatalf("pipe string stats %v", ss)
	}
	if v, err := pub.StatString("protocol"); err != nil || v != "pub" {
		t.Fatalf("protocol %q %v", v, err)
	}
}

// C NNG's dialer, refused twice by a pipe veto, sees its connection closed,
// redials and is served the third time. nngcat pulls, so that nothing of
// its own is in flight on a refused connection: NNG 1.5.2's push, closed
// under a send, can abort the process ("appending node already on a list").
func TestPipeVetoNngcat(t *testing.T) {
	testkit.Nngcat(t)
	t.Parallel()
	var calls atomic.Int64
	push := open(t, sockets.Push, sockets.WithPipeVeto(func(p *sockets.Pipe) error {
		if calls.Add(1) <= 2 {
			return errors.New("not yet")
		}
		return nil
	}))
	l, err := push.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cat := startNngcat(t, nil, args("--pull", "--dial", l.URL(), "--raw")...)
	waitPipes(t, push, 1)
	if err := push.Send(ctxT(t), []byte("knock"), sockets.Raw); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "message after two refusals", cat.waitOutput(t, 5), []byte("knock"))
	for name, want := range map[string]int64{"reject_veto": 2, "reject": 2, "pipes": 1} {
		if n, err := push.Stat(name); err != nil || n != want {
			t.Fatalf("%s = %d (%v), want %d: %v", name, n, err, want, push.Stats())
		}
	}
	if n, _ := l.Stat("reject"); n != 2 {
		t.Fatalf("listener stats %v", l.Stats())
	}
}
