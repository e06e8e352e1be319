package transport_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"go.nanomsg.org/mangos/v3"
	_ "go.nanomsg.org/mangos/v3/transport/tlstcp" // mangos' own, as peers
	_ "go.nanomsg.org/mangos/v3/transport/ws"
	_ "go.nanomsg.org/mangos/v3/transport/wss"

	"github.com/nanoact/nanoact/internal/transport"
)

// TestInteropMangos exchanges messages between our tls+tcp, ws and wss
// transports and mangos' own, both ways: our dialer to mangos' listener
// and mangos' dialer to ours, on req/rep so that every message carries an
// SP header.
func TestInteropMangos(t *testing.T) {
	for _, tc := range secureMatrix() {
		scheme, _, _ := strings.Cut(tc.url, "://")
		t.Run(tc.name+"/mangos-listens", func(t *testing.T) {
			rep, req := newRepSock(t), newReqSock(t)
			url := scheme + "://" + freeTCP(t) + tc.rawPath
			if scheme == "tls+tcp" {
				url = strings.TrimSuffix(url, "/")
			}
			must(t, rep.ListenOptions(url, tc.srvOpts(nil))) // mangos' transport
			u, err := transport.Rewrite(url)
			must(t, err)
			must(t, req.DialOptions(u, tc.cliOpts(nil)))
			reqRep(t, req, rep)
			// Close our side first, so that mangos' listener closes with
			// no connection in hand-over (where its ws listener leaks a
			// goroutine).
			must(t, req.Close())
		})
		t.Run(tc.name+"/mangos-dials", func(t *testing.T) {
			rep, req := newRepSock(t), newReqSock(t)
			l, _ := listen(t, rep, tc.url, tc.srvOpts(nil))
			must(t, req.DialOptions(l.Address(), tc.cliOpts(nil))) // mangos' transport
			reqRep(t, req, rep)
		})
	}
}

func reqRep(t *testing.T, req, rep mangos.Socket) {
	t.Helper()
	for _, n := range []int{0, 7, 40 << 10} {
		q := pattern(n)
		must(t, req.Send(q))
		got, err := rep.Recv()
		must(t, err)
		if string(got) != string(q) {
			t.Fatalf("%d bytes: request differs", n)
		}
		must(t, rep.Send(append(got, '!')))
		a, err := req.Recv()
		must(t, err)
		if string(a) != string(q)+"!" {
			t.Fatalf("%d bytes: reply differs", n)
		}
	}
}

// TestInteropNNGWSSharedPort has two nngcat processes dial two ws
// listeners of different sockets that share one port.
func TestInteropNNGWSSharedPort(t *testing.T) {
	if _, err := exec.LookPath(nngcat); err != nil {
		t.Skip("nngcat not installed")
	}
	a, b := newSock(t), newSock(t)
	la, _ := listen(t, a, "ws://127.0.0.1:0/a", nil)
	port, err := la.GetOption(transport.OptionTCPBoundPort)
	must(t, err)
	lb, _ := listen(t, b, "ws://127.0.0.1:"+strconv.Itoa(port.(int))+"/b", nil)
	var waits []func() []byte
	for _, l := range []mangos.Listener{la, lb} {
		waits = append(waits, nngcatRun(t, "--pair0", "--dial", l.Address(), "--data", "hello", "--raw", "--recv-timeout", "2"))
	}
	exchange(t, a)
	exchange(t, b)
	for i, wait := range waits {
		if out := wait(); string(out) != "world" {
			t.Fatalf("nngcat %d printed %q, want %q", i, out, "world")
		}
	}
}
