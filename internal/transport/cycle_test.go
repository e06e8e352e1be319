package transport_test

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol"
	"go.nanomsg.org/mangos/v3/protocol/pair"
	"go.uber.org/goleak"

	"github.com/nanoact/nanoact/internal/transport"
)

// countFDs returns the number of open file descriptors of the process.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// baseline waits until the descriptor count has been steady for a few
// polls (a previous test may still be closing things), then records the
// goroutines and descriptors that exist now.
func baseline(t *testing.T) (goleak.Option, int) {
	t.Helper()
	last, steady := -1, 0
	deadline := time.Now().Add(10 * time.Second)
	for steady < 3 && time.Now().Before(deadline) {
		f := countFDs(t)
		if f == last {
			steady++
		} else {
			last, steady = f, 0
		}
		time.Sleep(20 * time.Millisecond) // polling a count, not synchronising
	}
	return goleak.IgnoreCurrent(), countFDs(t)
}

// settle polls until every goroutine started since baseline has exited
// and the descriptor count is back to f0, or fails after a while.
func settle(t *testing.T, before goleak.Option, f0 int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := goleak.Find(before) // itself retries for about a second
		f := countFDs(t)
		if err == nil && f <= f0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leak: %d fds (baseline %d); goroutines: %v", f, f0, err)
		}
		time.Sleep(10 * time.Millisecond) // polling a count, not synchronising
	}
}

// cycle is one connect and disconnect: nine in ten dial with a pair
// socket and close it, every tenth opens a raw connection and closes it
// before the handshake.
func cycle(t *testing.T, i int, raw net.Addr, du string) {
	if i%10 == 9 {
		c, err := net.Dial(raw.Network(), raw.String())
		must(t, err)
		must(t, c.Close())
		return
	}
	c := protocol.MakeSocket(pair.NewProtocol())
	if err := c.Dial(du); err != nil {
		_ = c.Close()
		t.Fatalf("cycle %d: %v", i, err)
	}
	must(t, c.Close())
}

// TestConnectCycles connects and disconnects many times against one
// listener: nine in ten cycles open a pair socket, dial with our dialer
// (full handshake) and close it; every tenth opens a raw connection and
// closes it before the handshake. No goroutine and no descriptor may be
// left behind. 10,000 cycles per transport, 1,000 with -short.
func TestConnectCycles(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for _, tc := range []tcase{
		{"ipc", "ipc://" + filepath.Join(t.TempDir(), "cycle.sock")},
		{"tcp", "tcp://127.0.0.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSock(t)
			rec := newRecorder()
			l, du := listen(t, srv, tc.url, map[string]any{transport.OptionEvents: rec})
			v, err := l.GetOption(mangos.OptionLocalAddr)
			must(t, err)
			raw := v.(net.Addr)

			// The garbage collector is off within each batch: a net.Conn
			// nobody closed would otherwise be closed by its finalizer and
			// hide the leak from the descriptor count.
			const batch = 500
			defer debug.SetGCPercent(debug.SetGCPercent(100))
			var busy time.Duration
			for done := 0; done < n; done += batch {
				runtime.GC()
				before, f0 := baseline(t)
				debug.SetGCPercent(-1)
				start := time.Now()
				for i := done; i < min(done+batch, n); i++ {
					cycle(t, i, raw, du)
				}
				busy += time.Since(start)
				settle(t, before, f0)
				debug.SetGCPercent(100)
			}
			t.Logf("%d cycles in %v (%v per cycle); after each batch of %d no goroutine or fd was left",
				n, busy.Round(time.Millisecond), (busy / time.Duration(n)).Round(time.Microsecond), batch)

			// The listener still accepts and handshakes.
			_ = rawHandshake(t, l)
		})
	}
}
