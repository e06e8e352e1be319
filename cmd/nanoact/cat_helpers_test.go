package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// catProcLimit bounds every command run by a test, ours or nngcat: it
	// is stopped (ours: its context ends; nngcat: killed) when it runs out.
	catProcLimit = 30 * time.Second
	// catWaitLimit bounds every wait of a test for output or a listener.
	catWaitLimit = 15 * time.Second
)

// catBuffer collects a command's output; it may be read while the command
// writes, and signals each write on grew.
type catBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	grew chan struct{}
}

func newCatBuffer() *catBuffer { return &catBuffer{grew: make(chan struct{}, 1)} }

func (b *catBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.b.Write(p)
	b.mu.Unlock()
	select {
	case b.grew <- struct{}{}:
	default:
	}
	return n, err
}

func (b *catBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until the output holds want (from offset from on) and
// returns the output up to the end of want's first occurrence; it fails
// the test if done closes first or catWaitLimit passes.
func (b *catBuffer) waitFor(t *testing.T, what string, from int, want string, done <-chan struct{}) string {
	t.Helper()
	tm := time.NewTimer(catWaitLimit)
	defer tm.Stop()
	for {
		s := b.String()
		if i := strings.Index(s[min(from, len(s)):], want); i >= 0 {
			return s[:from+i+len(want)]
		}
		select {
		case <-b.grew:
		case <-done:
			s := b.String()
			if strings.Contains(s[min(from, len(s)):], want) {
				continue
			}
			t.Fatalf("%s ended before writing %q; it wrote %q", what, want, s)
		case <-tm.C:
			t.Fatalf("%s did not write %q in %v; it wrote %q", what, want, catWaitLimit, b.String())
		}
	}
}

// catProc is a command run by a test: ours in-process, or nngcat.
type catProc struct {
	name        string // "nanoact cat --req0 ..." or "nngcat --rep0 ..."
	out, errOut *catBuffer
	done        chan struct{} // closed when the command has ended
	code        int           // exit status, valid after done
	stop        func()        // ends the command early (cancel or kill)
}

func (p *catProc) String() string { return p.name }

// wait waits for the command to end on its own and returns its exit
// status and standard output.
func (p *catProc) wait(t *testing.T) (int, string) {
	t.Helper()
	tm := time.NewTimer(catProcLimit + 5*time.Second)
	defer tm.Stop()
	select {
	case <-p.done:
		return p.code, p.out.String()
	case <-tm.C:
		t.Fatalf("%s did not end; stdout %q, stderr %q", p, p.out, p.errOut)
		return 0, ""
	}
}

// waitOK waits for the command to end and fails the test unless it ended
// with status 0 and nothing on standard error; it returns its output.
func (p *catProc) waitOK(t *testing.T) string {
	t.Helper()
	code, out := p.wait(t)
	if code != 0 || p.errOut.String() != "" {
		t.Fatalf("%s: exit %d, stderr %q, stdout %q", p, code, p.errOut, out)
	}
	return out
}

// startCat runs "nanoact cat args..." in this process with stdin as its
// standard input (nil: none), as main's run does. It is stopped after
// catProcLimit and at cleanup, which returns once it has ended.
func startCat(t *testing.T, stdin []byte, args ...string) *catProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), catProcLimit)
	p := &catProc{
		name: "nanoact cat " + strings.Join(args, " "), out: newCatBuffer(), errOut: newCatBuffer(),
		done: make(chan struct{}), stop: cancel,
	}
	root := newRoot()
	root.SetArgs(append([]string{"cat"}, args...))
	root.SetIn(bytes.NewReader(stdin))
	root.SetOut(p.out)
	root.SetErr(p.errOut)
	go func() {
		defer close(p.done)
		err := root.ExecuteContext(ctx)
		switch {
		case err == nil:
			p.code = 0
		case errors.As(err, new(usageError)):
			p.code = 2
		default:
			p.code = 1
		}
		if err != nil {
			fmt.Fprintf(p.errOut, "nanoact: %v\n", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// execCat runs "nanoact cat args..." to its end and returns its exit
// status, standard output and standard error.
func execCat(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	p := startCat(t, stdin, args...)
	code, out := p.wait(t)
	return code, out, p.errOut.String()
}

// requireNngcat returns the path of nngcat (C NNG's command-line tool).
// It skips the test when nngcat is not installed, and fails it under CI
// (CI=true), where a silent skip would hide the interop tests.
func requireNngcat(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nngcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nngcat missing under CI")
		}
		t.Skip("nngcat (C NNG, Debian's nng-utils) not in PATH: skipping the interop test")
	}
	return p
}

// startNngcat starts nngcat with args. It is killed after catProcLimit,
// and at cleanup if still running; cleanup returns once it was waited for.
func startNngcat(t *testing.T, args ...string) *catProc {
	t.Helper()
	bin := requireNngcat(t)
	ctx, cancel := context.WithTimeout(context.Background(), catProcLimit)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = time.Second
	p := &catProc{
		name: "nngcat " + strings.Join(args, " "), out: newCatBuffer(), errOut: newCatBuffer(),
		done: make(chan struct{}), stop: cancel,
	}
	cmd.Stdout, cmd.Stderr = p.out, p.errOut
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", p, err)
	}
	go func() {
		defer close(p.done)
		err := cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		if err != nil && p.code == 0 {
			p.code = -1
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// catFreePort returns a loopback TCP port nobody listens on right now,
// for nngcat to listen on.
func catFreePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).AddrPort().String()
}

// catIPCPath returns a fresh ipc socket path in the test's directory.
func catIPCPath(t *testing.T) string { return filepath.Join(t.TempDir(), "cat.ipc") }

// waitListening waits until something accepts connections at url (tcp,
// tls+tcp or ipc). It fails the test if p ends first or catWaitLimit
// passes. The probe of a tcp or ipc URL is an SP handshake with a
// protocol nobody speaks (0xffff), which NNG answers with its own header
// and then rejects, so no pipe is made; closing the connection at once
// instead wedges NNG 1.5.2's ipc listener, which then accepts nobody.
func waitListening(t *testing.T, url string, p *catProc) {
	t.Helper()
	network, addr := "tcp", url[strings.Index(url, "://")+3:]
	if strings.HasPrefix(url, "ipc://") {
		network = "unix"
	}
	handshake := !strings.HasPrefix(url, "tls+")
	deadline := time.Now().Add(catWaitLimit)
	for {
		err := probeSP(network, addr, handshake)
		if err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s ended (exit %d, stderr %q) before listening at %s", p, p.code, p.errOut, url)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens at %s after %v: %v", url, catWaitLimit, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// probeSP connects to addr and, if handshake, exchanges SP headers with a
// protocol nobody speaks.
func probeSP(network, addr string, handshake bool) error {
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if !handshake {
		return nil
	}
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte{0, 'S', 'P', 0, 0xff, 0xff, 0, 0}); err != nil {
		return err
	}
	var hdr [8]byte
	_, err = io.ReadFull(c, hdr[:])
	return err
}
