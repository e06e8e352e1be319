// Package test holds nanoact's cross-package tests: interoperability with
// C NNG through its nngcat tool, and with plain mangos sockets.
package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
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

// requireNngcat returns the path of nngcat (C NNG's command-line peer). It
// skips the test when nngcat is not in PATH, and fails it instead under CI
// (CI=true), where a silent skip would hide the whole interop suite.
func requireNngcat(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nngcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nngcat missing under CI")
		}
		t.Skip("nngcat (C NNG) not in PATH: skipping the interop test (bash .ci/run installs it)")
	}
	return p
}

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
		free:     func(t *testing.T) string { return "tcp://127.0.0.1:" + freePort(t) },
	},
	{name: "ipc", goListen: ipcURL, free: ipcURL},
	{
		name:     "ws",
		goListen: func(*testing.T) string { return "ws://127.0.0.1:0/nanoact" },
		free:     func(t *testing.T) string { return "ws://127.0.0.1:" + freePort(t) + "/nanoact" },
	},
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

func ipcURL(t *testing.T) string { return "ipc://" + filepath.Join(t.TempDir(), "s.ipc") }

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
				requireNngcat(t)
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
		t.Fatalf("%s recv from nngcat %s: %v\n(%d pipe(s); nngcat %s)", s.Protocol(), cat, err, s.Pipes(), cat.state())
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

// syncBuffer collects a process's output; it may be read while the process
// writes, and signals each write on grew.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	grew chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{grew: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.b.Write(p)
	b.mu.Unlock()
	select {
	case b.grew <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// nngcat is a running nngcat process.
type nngcat struct {
	args   []string
	cancel context.CancelFunc
	out    *syncBuffer
	errOut *syncBuffer
	done   chan struct{} // closed once Wait has returned
	err    error         // Wait's result, valid after done
}

// startNngcat starts nngcat with args (and stdin, if not nil). The process
// is killed after procLimit, and at cleanup if still running; cleanup
// returns once it has been waited for.
func startNngcat(t *testing.T, stdin []byte, args ...string) *nngcat {
	t.Helper()
	bin := requireNngcat(t)
	ctx, cancel := context.WithTimeout(context.Background(), procLimit)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = time.Second
	p := &nngcat{args: args, cancel: cancel, out: newSyncBuffer(), errOut: newSyncBuffer(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.errOut
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start nngcat %s: %v", p, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *nngcat) String() string { return strings.Join(p.args, " ") }

// kill kills the process (if it still runs) and waits for it.
func (p *nngcat) kill() {
	p.cancel()
	<-p.done
}

// state describes the process for failure messages.
func (p *nngcat) state() string {
	if p.exited() {
		return fmt.Sprintf("exited: %v, stdout %q, stderr %q", p.err, p.out.Bytes(), p.errOut.Bytes())
	}
	return fmt.Sprintf("running, stdout %q, stderr %q", p.out.Bytes(), p.errOut.Bytes())
}

// exited reports whether the process has exited.
func (p *nngcat) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit on its own, fails the test unless it
// exited with status 0, and returns its standard output.
func (p *nngcat) wait(t *testing.T) []byte {
	t.Helper()
	err := p.waitExit(t)
	if err != nil {
		t.Fatalf("nngcat %s: %v\nstderr: %s\nstdout: %q", p, err, p.errOut.Bytes(), p.out.Bytes())
	}
	return p.out.Bytes()
}

// waitExit waits for the process to exit and returns Wait's error.
func (p *nngcat) waitExit(t *testing.T) error {
	t.Helper()
	tm := time.NewTimer(procLimit + 5*time.Second)
	defer tm.Stop()
	select {
	case <-p.done:
		return p.err
	case <-tm.C:
		t.Fatalf("nngcat %s did not exit", p)
		return nil
	}
}

// waitOutput waits until the process has written at least n bytes to its
// standard output and returns them; it fails the test if the process
// exits first or opLimit passes.
func (p *nngcat) waitOutput(t *testing.T, n int) []byte {
	t.Helper()
	tm := time.NewTimer(opLimit)
	defer tm.Stop()
	for {
		if out := p.out.Bytes(); len(out) >= n {
			return out
		}
		select {
		case <-p.out.grew:
		case <-p.done:
			if out := p.out.Bytes(); len(out) >= n {
				return out
			}
			t.Fatalf("nngcat %s exited (%v) after writing %q, want %d bytes\nstderr: %s", p, p.err, p.out.Bytes(), n, p.errOut.Bytes())
		case <-tm.C:
			t.Fatalf("nngcat %s wrote %q in %v, want %d bytes\nstderr: %s", p, p.out.Bytes(), opLimit, n, p.errOut.Bytes())
		}
	}
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
