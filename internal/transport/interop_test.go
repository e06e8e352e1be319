package transport_test

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact/internal/transport"
)

const nngcat = "/usr/bin/nngcat"

// nngcatRun starts nngcat with args and returns a function that waits for
// it and returns its standard output.
func nngcatRun(t *testing.T, args ...string) func() []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cmd := exec.CommandContext(ctx, nngcat, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	waited := false
	wait := func() []byte {
		waited = true
		err := cmd.Wait()
		cancel()
		if err != nil {
			t.Fatalf("nngcat %s: %v\nstderr: %s", strings.Join(args, " "), err, errb.String())
		}
		return out.Bytes()
	}
	t.Cleanup(func() {
		if !waited {
			cancel()
			_ = cmd.Wait()
		}
	})
	return wait
}

// freeTCP returns a loopback address nobody listens on right now.
func freeTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	a := ln.Addr().String()
	must(t, ln.Close())
	return a
}

// TestInteropNNG exchanges messages with C NNG's nngcat (pair0, protocol
// 0x10) in both roles: nngcat dials our listener, and our dialer connects
// to nngcat's listener. nngcat sends "hello" and prints, byte for byte,
// the "world" we answer.
func TestInteropNNG(t *testing.T) {
	if _, err := exec.LookPath(nngcat); err != nil {
		t.Skip("nngcat not installed")
	}
	dir := t.TempDir()
	cases := []struct {
		name   string
		listen func() string // for our listener
		url    func() string // for nngcat's listener: no port 0 there
	}{
		{"tcp", func() string { return "tcp://127.0.0.1:0" }, func() string { return "tcp://" + freeTCP(t) }},
		{"ipc", func() string { return "ipc://" + filepath.Join(dir, "nng-"+randName()) }, nil},
		{"abstract", uniqueAbstract, nil},
	}
	for _, c := range cases {
		t.Run(c.name+"/nngcat-dials", func(t *testing.T) {
			t.Parallel()
			srv := newSock(t)
			l, _ := listen(t, srv, c.listen(), nil)
			wait := nngcatRun(t, "--pair0", "--dial", l.Address(), "--data", "hello",
				"--raw", "--recv-timeout", "1")
			exchange(t, srv)
			if out := wait(); string(out) != "world" {
				t.Fatalf("nngcat printed %q, want %q", out, "world")
			}
		})
		t.Run(c.name+"/nngcat-listens", func(t *testing.T) {
			t.Parallel()
			url := c.listen()
			if c.url != nil {
				url = c.url()
			}
			wait := nngcatRun(t, "--pair0", "--listen", url, "--data", "hello",
				"--raw", "--recv-timeout", "2")
			cli := newSock(t)
			u, err := transport.Rewrite(url)
			must(t, err)
			// nngcat may not be listening yet: let mangos redial.
			must(t, cli.DialOptions(u, map[string]any{mangos.OptionDialAsynch: true}))
			exchange(t, cli)
			if out := wait(); string(out) != "world" {
				t.Fatalf("nngcat printed %q, want %q", out, "world")
			}
		})
	}
}

// TestInteropNNGWrongProtocol lets nngcat speak pair1 (0x11) to our pair0
// listener: the handshake is refused and reported.
func TestInteropNNGWrongProtocol(t *testing.T) {
	if _, err := exec.LookPath(nngcat); err != nil {
		t.Skip("nngcat not installed")
	}
	rec := newRecorder()
	srv := newSock(t)
	l, _ := listen(t, srv, "tcp://127.0.0.1:0", map[string]any{transport.OptionEvents: rec})
	// nngcat redials until its recv-timeout; we only need the first try.
	_ = nngcatRun(t, "--pair1", "--dial", l.Address(), "--raw", "--recv-timeout", "1", "--count", "1")
	e := rec.waitHSFail(t)
	wantCode(t, e.err, nanoact.ErrProtocol)
	t.Logf("refused: %v", e.err)
}

// exchange receives nngcat's "hello" on s and answers "world".
func exchange(t *testing.T, s mangos.Socket) {
	t.Helper()
	got, err := s.Recv()
	must(t, err)
	if string(got) != "hello" {
		t.Fatalf("received %q from nngcat, want %q", got, "hello")
	}
	must(t, s.Send([]byte("world")))
}

func randName() string {
	return strings.TrimPrefix(uniqueAbstract(), "abstract://")
}
