// Package test holds nanoact's cross-package tests: interoperability with
// C NNG through its nngcat tool, and with plain mangos sockets.
package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	// procLimit bounds every nngcat process: it is killed when it runs out.
	procLimit = 20 * time.Second
	// opLimit bounds every send, receive and wait of a test.
	opLimit = 10 * time.Second
)

// transport is one entry of the transport matrix.
type transport struct {
	name string
	// goListen returns a URL for one of our sockets to listen on; the
	// listener's URL() is then what a peer dials.
	goListen func(t *testing.T) string
	// free returns a URL nobody listens on, for a peer to listen on.
	free func(t *testing.T) string
}

// transports is the matrix every nngcat case runs over. Our tcp and ws
// listeners bind port 0 and report the port bound in URL(); nngcat's
// listeners take a port that was free a moment ago.
var transports = []transport{
	{
		name:     "tcp",
		goListen: func(*testing.T) string { return "tcp://127.0.0.1:0" },
		free:     func(t *testing.T) string { return "tcp://127.0.0.1:" + testkit.FreePort(t) },
	},
	{name: "ipc", goListen: ipcURL, free: ipcURL},
	{
		name:     "ws",
		goListen: func(*testing.T) string { return "ws://127.0.0.1:0/nanoact" },
		free:     func(t *testing.T) string { return "ws://127.0.0.1:" + testkit.FreePort(t) + "/nanoact" },
	},
}

func ipcURL(t *testing.T) string { return "ipc://" + testkit.IPCPath(t) }

// open opens a socket of protocol p, with a short reconnect time so that
// an Async dialer finds a peer that starts listening after it, and closes
// it at cleanup.
func open(t *testing.T, p sockets.Protocol, opts ...sockets.Option) *sockets.Socket {
	t.Helper()
	all := append([]sockets.Option{sockets.WithReconnect(10*time.Millisecond, 100*time.Millisecond)}, opts...)
	s, err := sockets.New(p, all...)
	if err != nil {
		t.Fatalf("New(%s): %v", p, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// attach connects s to the nngcat about to start and returns nngcat's
// address arguments. If nngListens, s dials (Async: retrying until nngcat
// listens) a free URL and nngcat listens there; otherwise s listens and
// nngcat dials (synchronously, so s must listen first).
func attach(t *testing.T, s *sockets.Socket, tr transport, nngListens bool) []string {
	t.Helper()
	if nngListens {
		url := tr.free(t)
		if _, err := s.Dial(url, sockets.Async); err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		return []string{"--listen", url}
	}
	l, err := s.Listen(tr.goListen(t))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return []string{"--dial", l.URL()}
}

// forEachLink runs fn as parallel subtests "<transport>/<direction>" over
// every transport, with nngcat dialing our listener and then listening
// for our dialer.
func forEachLink(t *testing.T, fn func(t *testing.T, tr transport, nngListens bool)) {
	t.Helper()
	for _, tr := range transports {
		for _, nngListens := range []bool{false, true} {
			name := tr.name + "/nngcat-dials"
			if nngListens {
				name = tr.name + "/nngcat-listens"
			}
			t.Run(name, func(t *testing.T) {
				testkit.Nngcat(t)
				t.Parallel()
				fn(t, tr, nngListens)
			})
		}
	}
}

// ctxT returns a context that ends after opLimit or with the test.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), opLimit)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds, failing the test after opLimit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(opLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, opLimit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitPipes waits until s has n live connections.
func waitPipes(t *testing.T, s *sockets.Socket, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s socket with %d pipe(s)", s.Protocol(), n), func() bool { return s.Pipes() == n })
}

// send sends v on s in raw mode.
func send(t *testing.T, ctx context.Context, s *sockets.Socket, v any) {
	t.Helper()
	if err := s.Send(ctx, v, sockets.Raw); err != nil {
		t.Fatalf("%s send %#v: %v", s.Protocol(), v, err)
	}
}

// recvBytes receives one message on s and returns its body.
func recvBytes(t *testing.T, ctx context.Context, s *sockets.Socket) []byte {
	t.Helper()
	b, err := sockets.RecvAs[[]byte](ctx, s, sockets.Raw)
	if err != nil {
		t.Fatalf("%s recv: %v", s.Protocol(), err)
	}
	return b
}

// recvFrom receives one message that nngcat process cat sent to s and
// returns its body; a failure reports s's connections and cat's state.
func recvFrom(t *testing.T, ctx context.Context, s *sockets.Socket, cat *nngcat) []byte {
	t.Helper()
	b, err := sockets.RecvAs[[]byte](ctx, s, sockets.Raw)
	if err != nil {
		t.Fatalf("%s recv from nngcat %s: %v\n(%d pipe(s); nngcat %s)", s.Protocol(), cat, err, s.Pipes(), cat.State())
	}
	return b
}

// wantBytes fails the test unless got equals want, byte for byte.
func wantBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %q (% x), want %q (% x)", what, got, got, want, want)
	}
}

// wantCode fails the test unless err carries want's NNG code.
func wantCode(t *testing.T, err error, want *nanoact.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// nngcat is a running nngcat process.
type nngcat struct{ *testkit.Proc }

// startNngcat starts nngcat with args (and stdin, if not nil). The process
// is killed after procLimit, and at cleanup if still running; cleanup
// returns once it has been waited for.
func startNngcat(t *testing.T, stdin []byte, args ...string) *nngcat {
	t.Helper()
	return &nngcat{testkit.Exec(t, procLimit, stdin, testkit.Nngcat(t), args...)}
}

// wait waits for the process to exit on its own, fails the test unless it
// exited with status 0, and returns its standard output.
func (p *nngcat) wait(t *testing.T) []byte {
	t.Helper()
	if err := p.waitExit(t); err != nil {
		t.Fatalf("%s: %v\nstderr: %s\nstdout: %q", p, err, p.ErrOut.Bytes(), p.Out.Bytes())
	}
	return p.Out.Bytes()
}

// waitExit waits for the process to exit and returns its error.
func (p *nngcat) waitExit(t *testing.T) error {
	t.Helper()
	_, err := p.Wait(t, procLimit+5*time.Second)
	return err
}

// waitOutput waits until the process has written at least n bytes to its
// standard output and returns them; it fails the test if the process
// exits first or opLimit passes.
func (p *nngcat) waitOutput(t *testing.T, n int) []byte {
	t.Helper()
	return p.WaitOutput(t, n, opLimit)
}

// args builds an nngcat command line.
func args(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		case int:
			out = append(out, strconv.Itoa(v))
		default:
			panic(fmt.Sprintf("args: %T", p))
		}
	}
	return out
}
