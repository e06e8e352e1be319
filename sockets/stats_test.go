package sockets_test

import (
	"fmt"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

func stat(t *testing.T, s interface{ Stat(string) (int64, error) }, name string) int64 {
	t.Helper()
	v, err := s.Stat(name)
	if err != nil {
		t.Fatalf("stat %s: %v", name, err)
	}
	return v
}

// pipes follows the live connections as peers come and go; the listener
// counts accepts and disconnects.
func TestStatsPipes(t *testing.T) {
	t.Parallel()
	for tname, url := range transports(t) {
		t.Run(tname, func(t *testing.T) {
			pull := open(t, sockets.Pull)
			l, err := pull.Listen(url)
			if err != nil {
				t.Fatal(err)
			}
			var ds []*sockets.Dialer
			for range 3 {
				d, err := open(t, sockets.Push).Dial(l.URL(), sockets.Sync)
				if err != nil {
					t.Fatal(err)
				}
				ds = append(ds, d)
			}
			// The socket counts a pipe when its protocol takes it, the
			// listener when mangos reports it attached, just after: wait
			// for both.
			eventually(t, func() bool { return stat(t, pull, "pipes") == 3 && stat(t, l, "accept") == 3 })
			_ = ds[1].Close()
			eventually(t, func() bool { return stat(t, pull, "pipes") == 2 && stat(t, l, "disconnect") == 1 })
			if stat(t, l, "accept") != 3 || stat(t, l, "pipes") != 2 || stat(t, pull, "listeners") != 1 {
				t.Fatalf("listener stats %v socket %v", l.Stats(), pull.Stats())
			}
			if stat(t, ds[0], "connect") != 1 || stat(t, ds[0], "pipes") != 1 || stat(t, ds[0].Socket(), "dialers") != 1 {
				t.Fatalf("dialer stats %v", ds[0].Stats())
			}
			if stat(t, l, "socket") != int64(pull.ID()) || stat(t, l, "id") != int64(l.ID()) {
				t.Fatal("ids")
			}
		})
	}
}

func TestStatsMessages(t *testing.T) {
	t.Parallel()
	push, pull := open(t, sockets.Push), open(t, sockets.Pull)
	connect(t, pull, push, fmt.Sprintf("inproc://stats-%d", seq.Add(1)))
	ctx := ctxT(t)
	for range 10 {
		if err := push.Send(ctx, make([]byte, 100), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if _, err := pull.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return stat(t, push, "tx_msgs") == 10 })
	if stat(t, push, "tx_bytes") != 1000 || stat(t, pull, "rx_msgs") != 10 || stat(t, pull, "rx_bytes") != 1000 {
		t.Fatalf("push %v pull %v", push.Stats(), pull.Stats())
	}
	_, err := push.Stat("no-such-stat")
	wantCode(t, err, nanoact.ErrNotFound)
	if len(sockets.StatNames(push)) != 21 { // 11 numbers, 2 strings and 8 drop counters
		t.Fatal(sockets.StatNames(push))
	}
}

func TestStatsRejectRefused(t *testing.T) {
	t.Parallel()
	rep := open(t, sockets.Rep)
	l, err := rep.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A push is the wrong peer for a rep: the listener rejects it.
	_, _ = open(t, sockets.Push).Dial(l.URL(), sockets.Sync)
	eventually(t, func() bool { return stat(t, l, "reject") == 1 && stat(t, rep, "reject") == 1 })

	probe := open(t, sockets.Pull)
	pl, _ := probe.Listen("tcp://127.0.0.1:0")
	url := pl.URL()
	_ = pl.Close()
	d, err := open(t, sockets.Push).Dial(url, sockets.Later)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, d.Start(sockets.Sync), nanoact.ErrConnRefused)
	if stat(t, d, "refused") != 1 {
		t.Fatalf("dialer stats %v", d.Stats())
	}
}
