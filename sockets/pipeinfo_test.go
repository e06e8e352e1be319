package sockets_test

import (
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// String statistics come from StatString, numbers from Stat; each refuses
// the other's names with ErrBadType.
func TestStatStrings(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Pull)
	if err := sockets.Set(s, sockets.SocketName, "jobs"); err != nil {
		t.Fatal(err)
	}
	l, err := s.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := open(t, sockets.Push).Dial(l.URL(), sockets.Sync)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what interface {
			StatString(string) (string, error)
		}
		name, want string
	}{
		{s, "protocol", "pull"},
		{s, "name", "jobs"},
		{d.Socket(), "protocol", "push"},
		{d.Socket(), "name", d.Socket().Name()},
		{l, "url", l.URL()},
		{d, "url", l.URL()},
	} {
		got, err := c.what.StatString(c.name)
		if err != nil || got != c.want {
			t.Errorf("StatString(%q) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if !strings.Contains(l.URL(), "127.0.0.1:") || strings.HasSuffix(l.URL(), ":0") {
		t.Fatalf("listener url %q: want the bound port", l.URL())
	}
	_, err = s.StatString("pipes")
	wantCode(t, err, nanoact.ErrBadType)
	_, err = s.Stat("protocol")
	wantCode(t, err, nanoact.ErrBadType)
	_, err = l.Stat("url")
	wantCode(t, err, nanoact.ErrBadType)
	_, err = d.StatString("connect")
	wantCode(t, err, nanoact.ErrBadType)
	_, err = s.StatString("nope")
	wantCode(t, err, nanoact.ErrNotFound)
	_, err = l.StatString("nope")
	wantCode(t, err, nanoact.ErrNotFound)
	_ = s.Close()
	_, err = s.StatString("protocol")
	wantCode(t, err, nanoact.ErrClosed)
}

// StatNames lists every socket statistic, numeric and string, and each
// drop counter the package doc lists is among them.
func TestStatNamesAll(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Pub)
	names := sockets.StatNames(s)
	for _, want := range []string{
		"id", "pipes", "dialers", "listeners", "reject", "reject_veto", "oversize",
		"tx_msgs", "rx_msgs", "tx_bytes", "rx_bytes", "protocol", "name",
		"drop_pub_full", "drop_send_full", "drop_recv_full", "drop_stale_reply",
		"drop_late_answer", "drop_pipe_gone", "drop_bad", "req_resent",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("StatNames lacks %q: %v", want, names)
		}
	}
	if len(names) != 21 || !slices.IsSorted(names) {
		t.Fatalf("StatNames = %v", names)
	}
	for _, n := range names {
		_, nerr := s.Stat(n)
		_, serr := s.StatString(n)
		if (nerr == nil) == (serr == nil) {
			t.Errorf("%s: Stat err %v, StatString err %v: want exactly one to succeed", n, nerr, serr)
		}
	}
}

// Each connection counts its own messages and bytes, and knows its
// endpoint and its peer's address.
func TestPipeStats(t *testing.T) {
	t.Parallel()
	for tname, url := range transports(t) {
		t.Run(tname, func(t *testing.T) {
			pull := open(t, sockets.Pull)
			l, err := pull.Listen(url)
			if err != nil {
				t.Fatal(err)
			}
			a, b := open(t, sockets.Push), open(t, sockets.Push)
			da, err := a.Dial(l.URL(), sockets.Sync)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Dial(l.URL(), sockets.Sync); err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			for range 3 {
				if err := a.Send(ctx, make([]byte, 10), sockets.Raw); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Send(ctx, make([]byte, 7), sockets.Raw); err != nil {
				t.Fatal(err)
			}
			from := map[uint32]int{}
			for range 4 {
				m, err := pull.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				from[m.Pipe]++
			}
			if len(from) != 2 || !slices.Equal(pull.PipeIDs(), sortedKeys(from)) {
				t.Fatalf("messages came from %v; PipeIDs %v", from, pull.PipeIDs())
			}
			for id, n := range from {
				p, err := pull.Pipe(id)
				if err != nil {
					t.Fatal(err)
				}
				size := map[int]int64{3: 10, 1: 7}[n]
				// Counted just after the message is queued: wait for it.
				eventually(t, func() bool { return stat(t, p, "rx_msgs") == int64(n) })
				if stat(t, p, "rx_msgs") != int64(n) || stat(t, p, "rx_bytes") != int64(n)*size ||
					stat(t, p, "tx_msgs") != 0 || stat(t, p, "id") != int64(id) ||
					stat(t, p, "socket") != int64(pull.ID()) || stat(t, p, "listener") != int64(l.ID()) ||
					stat(t, p, "dialer") != 0 {
					t.Fatalf("pipe %d stats %v", id, p.Stats())
				}
				if u, err := p.StatString("url"); err != nil || u != l.URL() || p.Listener() != l || p.Dialer() != nil {
					t.Fatalf("pipe url %q, %v", u, err)
				}
				if r, err := p.RemoteAddr(); err != nil || pull.PeerAddr(id) != r {
					t.Fatalf("remote address %q, %v; PeerAddr %q", r, err, pull.PeerAddr(id))
				}
			}
			// The dialing side sees its own pipe, made by its dialer.
			ids := a.PipeIDs()
			if len(ids) != 1 {
				t.Fatalf("push pipes %v", ids)
			}
			pa, err := a.Pipe(ids[0])
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, func() bool { return stat(t, pa, "tx_msgs") == 3 }) // counted once written
			if stat(t, pa, "tx_msgs") != 3 || stat(t, pa, "tx_bytes") != 30 || pa.Dialer() != da || stat(t, pa, "dialer") != int64(da.ID()) {
				t.Fatalf("push pipe stats %v", pa.Stats())
			}
			if tname == "tcp" || tname == "ws" {
				local, _ := pa.LocalAddr()
				remote := map[uint32]string{}
				for id := range from {
					p, _ := pull.Pipe(id)
					remote[id], _ = p.RemoteAddr()
				}
				if _, _, err := net.SplitHostPort(local); err != nil || !slices.Contains(mapValues(remote), local) {
					t.Fatalf("push local address %q not among the pull's remote addresses %v", local, remote)
				}
			}
			// Gone: the handle reports ErrClosed, Socket.Pipe ErrNotFound.
			if err := pa.Close(); err != nil {
				t.Fatal(err)
			}
			eventually(t, func() bool { _, err := pa.Stat("tx_msgs"); return err != nil })
			_, err = pa.Stat("tx_msgs")
			wantCode(t, err, nanoact.ErrClosed)
			_, err = pa.RemoteAddr()
			wantCode(t, err, nanoact.ErrClosed)
			_, err = a.Pipe(pa.ID())
			wantCode(t, err, nanoact.ErrNotFound)
			if r := a.PeerAddr(pa.ID()); r != "" {
				t.Fatalf("PeerAddr of a gone connection %q", r)
			}
			if pa.Stats()["id"] != int64(pa.ID()) {
				t.Fatalf("closed pipe stats %v", pa.Stats())
			}
		})
	}
}

// PeerCred gives the peer process's credentials on ipc, ErrNotSupported
// on tcp.
func TestPipePeerCred(t *testing.T) {
	t.Parallel()
	urls := transports(t)
	for _, tname := range []string{"ipc", "tcp"} {
		t.Run(tname, func(t *testing.T) {
			pair := open(t, sockets.Pair)
			peer := open(t, sockets.Pair)
			connect(t, pair, peer, urls[tname])
			p, err := pair.Pipe(pair.PipeIDs()[0])
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.PeerCred()
			if tname == "tcp" {
				wantCode(t, err, nanoact.ErrNotSupported)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.PID != os.Getpid() || c.UID != os.Getuid() || c.GID != os.Getgid() {
				t.Fatalf("peer credentials %+v; want this process", c)
			}
		})
	}
}

func sortedKeys[V any](m map[uint32]V) []uint32 {
	ks := make([]uint32, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func mapValues[K comparable, V any](m map[K]V) []V {
	vs := make([]V, 0, len(m))
	for _, v := range m {
		vs = append(vs, v)
	}
	return vs
}
