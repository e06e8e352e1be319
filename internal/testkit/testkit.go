// Package testkit holds what several of nanoact's test suites share:
// finding C NNG's nngcat, running it (or an in-process command) with its
// output captured, picking free addresses, and the conformance suite that
// holds every protocol, over every transport, to NNG 1.x's behaviour
// (RunConformance, and RunNngcatConformance with C NNG as the peer). It is
// imported by tests only.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Nngcat returns the path of nngcat, C NNG's command-line peer (Debian's
// nng-utils). It skips the test when nngcat is not in PATH, and fails it
// instead under CI (CI=true), where a silent skip would hide the interop
// tests.
func Nngcat(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("nngcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nngcat missing under CI")
		}
		t.Skip("nngcat (C NNG, Debian's nng-utils) not in PATH: skipping the interop test (bash .ci/run installs it)")
	}
	return p
}

// FreePort returns a loopback TCP port nobody listens on right now, for a
// peer that cannot bind port 0 and report it.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// IPCPath returns a fresh ipc socket path in the test's directory.
func IPCPath(t testing.TB) string { return filepath.Join(t.TempDir(), "s.ipc") }

// Buffer collects a command's output. It may be read while the command
// writes, and Grew is signalled after each write.
type Buffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	grew chan struct{}
}

// NewBuffer returns an empty Buffer.
func NewBuffer() *Buffer { return &Buffer{grew: make(chan struct{}, 1)} }

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.b.Write(p)
	b.mu.Unlock()
	select {
	case b.grew <- struct{}{}:
	default:
	}
	return n, err
}

// Bytes returns a copy of what was written so far.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Grew is signalled (capacity one) after each write.
func (b *Buffer) Grew() <-chan struct{} { return b.grew }

// WaitFor waits until the output holds want at or after offset from and
// returns the output up to the end of want's first occurrence. It fails
// the test if done closes first (the writer ended) or limit passes; what
// names the writer in the failure.
func (b *Buffer) WaitFor(t testing.TB, what string, from int, want string, done <-chan struct{}, limit time.Duration) string {
	t.Helper()
	tm := time.NewTimer(limit)
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
			t.Fatalf("%s did not write %q in %v; it wrote %q", what, want, limit, b.String())
		}
	}
}

// Proc is a command a test runs: a program (Exec) or a function in this
// process (Go), with its output captured.
type Proc struct {
	// Name is the command line, for messages.
	Name string
	// Out and ErrOut are its standard output and error.
	Out, ErrOut *Buffer

	done chan struct{}
	code int
	err  error
	stop context.CancelFunc
}

func newProc(name string, stop context.CancelFunc) *Proc {
	return &Proc{Name: name, Out: NewBuffer(), ErrOut: NewBuffer(), done: make(chan struct{}), stop: stop}
}

// Exec starts bin with args (and stdin, if not nil). The process is
// killed after limit, and by Stop or at cleanup if still running; cleanup
// returns once it has been waited for.
func Exec(t testing.TB, limit time.Duration, stdin []byte, bin string, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = time.Second
	p := newProc(filepath.Base(bin)+" "+strings.Join(args, " "), cancel)
	cmd.Stdout, cmd.Stderr = p.Out, p.ErrOut
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", p, err)
	}
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		if p.err != nil && p.code == 0 {
			p.code = -1
		}
	}()
	t.Cleanup(p.Stop)
	return p
}

// Go runs fn as a command in this process, on its own goroutine, with a
// context that ends after limit or at Stop; fn writes to the Proc's
// buffers and returns the exit status and error. Cleanup stops it and
// returns once fn has returned.
func Go(t testing.TB, name string, limit time.Duration, fn func(ctx context.Context, p *Proc) (int, error)) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	p := newProc(name, cancel)
	go func() {
		defer close(p.done)
		p.code, p.err = fn(ctx, p)
	}()
	t.Cleanup(p.Stop)
	return p
}

// String returns the command line.
func (p *Proc) String() string { return p.Name }

// Done is closed once the command has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Code is the exit status; valid once Done is closed.
func (p *Proc) Code() int { return p.code }

// Err is the command's error (a program's exit error); valid once Done
// is closed.
func (p *Proc) Err() error { return p.err }

// Exited reports whether the command has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the command if it still runs (a program is killed) and waits
// for it.
func (p *Proc) Stop() {
	p.stop()
	<-p.done
}

// State describes the command for failure messages.
func (p *Proc) State() string {
	if p.Exited() {
		return fmt.Sprintf("exited: %d %v, stdout %q, stderr %q", p.code, p.err, p.Out.Bytes(), p.ErrOut.Bytes())
	}
	return fmt.Sprintf("running, stdout %q, stderr %q", p.Out.Bytes(), p.ErrOut.Bytes())
}

// Wait waits for the command to end on its own and returns its exit
// status and error; it fails the test after limit.
func (p *Proc) Wait(t testing.TB, limit time.Duration) (int, error) {
	t.Helper()
	tm := time.NewTimer(limit)
	defer tm.Stop()
	select {
	case <-p.done:
		return p.code, p.err
	case <-tm.C:
		t.Fatalf("%s did not end in %v; %s", p, limit, p.State())
		return 0, nil
	}
}

// WaitOutput waits until the command has written at least n bytes to its
// standard output and returns them; it fails the test if the command ends
// first or limit passes.
func (p *Proc) WaitOutput(t testing.TB, n int, limit time.Duration) []byte {
	t.Helper()
	tm := time.NewTimer(limit)
	defer tm.Stop()
	for {
		if out := p.Out.Bytes(); len(out) >= n {
			return out
		}
		select {
		case <-p.Out.grew:
		case <-p.done:
			if out := p.Out.Bytes(); len(out) >= n {
				return out
			}
			t.Fatalf("%s ended after writing %d bytes, want %d; %s", p, len(p.Out.Bytes()), n, p.State())
		case <-tm.C:
			t.Fatalf("%s wrote %d bytes in %v, want %d; %s", p, len(p.Out.Bytes()), limit, n, p.State())
		}
	}
}
