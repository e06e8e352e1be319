package transport_test

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol"
	"go.nanomsg.org/mangos/v3/protocol/pair"

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

// settle polls until the goroutine and descriptor counts are back to
// their baselines, or gives up after a while and reports what is left.
func settle(t *testing.T, g0, f0 int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), countFDs(t)
		if g <= g0 && f <= f0 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("leak: %d goroutines (baseline %d), %d fds (baseline %d)\n%s",
				g, g0, f, f0, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond) // polling a count, not synchronising
	}
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

			g0, f0 := runtime.NumGoroutine(), countFDs(t)
			start := time.Now()
			for i := range n {
				if i%10 == 9 {
					c, err := net.Dial(raw.Network(), raw.String())
					must(t, err)
					must(t, c.Close())
					continue
				}
				c := protocol.MakeSocket(pair.NewProtocol())
				if err := c.Dial(du); err != nil {
					_ = c.Close()
					t.Fatalf("cycle %d: %v", i, err)
				}
				must(t, c.Close())
			}
			elapsed := time.Since(start)
			settle(t, g0, f0)
			t.Logf("%d cycles in %v (%v per cycle); goroutines and fds back to %d and %d",
				n, elapsed.Round(time.Millisecond), (elapsed / time.Duration(n)).Round(time.Microsecond), g0, f0)

			// The listener still works.
			cli := newSock(t)
			must(t, cli.Dial(du))
			must(t, cli.Send([]byte("after")))
			got, err := srv.Recv()
			must(t, err)
			if string(got) != "after" {
				t.Fatalf("got %q", got)
			}
		})
	}
}
