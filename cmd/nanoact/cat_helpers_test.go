package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/testkit"
)

const (
	// catProcLimit bounds every command run by a test, ours or nngcat: it
	// is stopped (ours: its context ends; nngcat: killed) when it runs out.
	catProcLimit = 30 * time.Second
	// catWaitLimit bounds every wait of a test for output or a listener.
	catWaitLimit = 15 * time.Second
)

// catProc is a command run by a test: ours in-process, or nngcat.
type catProc struct{ *testkit.Proc }

// firstLine waits for the command's first line of output and returns it,
// newline included.
func (p *catProc) firstLine(t *testing.T) string {
	t.Helper()
	return p.Out.WaitFor(t, p.Name, 0, "\n", p.Done(), catWaitLimit)
}

// wait waits for the command to end on its own and returns its exit
// status and standard output.
func (p *catProc) wait(t *testing.T) (int, string) {
	t.Helper()
	code, _ := p.Wait(t, catProcLimit+5*time.Second)
	return code, p.Out.String()
}

// waitOK waits for the command to end and fails the test unless it ended
// with status 0 and nothing on standard error; it returns its output.
func (p *catProc) waitOK(t *testing.T) string {
	t.Helper()
	code, out := p.wait(t)
	if code != 0 || p.ErrOut.String() != "" {
		t.Fatalf("%s: exit %d, stderr %q, stdout %q", p, code, p.ErrOut, out)
	}
	return out
}

// startCat runs "nanoact cat args..." in this process with stdin as its
// standard input (nil: none), as main's run does. It is stopped after
// catProcLimit and at cleanup, which returns once it has ended.
func startCat(t *testing.T, stdin []byte, args ...string) *catProc {
	t.Helper()
	return &catProc{testkit.Go(t, "nanoact cat "+strings.Join(args, " "), catProcLimit, func(ctx context.Context, p *testkit.Proc) (int, error) {
		root := newRoot()
		root.SetArgs(append([]string{"cat"}, args...))
		root.SetIn(bytes.NewReader(stdin))
		root.SetOut(p.Out)
		root.SetErr(p.ErrOut)
		err := root.ExecuteContext(ctx)
		switch {
		case err == nil:
			return 0, nil
		case errors.As(err, new(usageError)):
			fmt.Fprintf(p.ErrOut, "nanoact: %v\n", err)
			return 2, err
		}
		fmt.Fprintf(p.ErrOut, "nanoact: %v\n", err)
		return 1, err
	})}
}

// execCat runs "nanoact cat args..." to its end and returns its exit
// status, standard output and standard error.
func execCat(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	p := startCat(t, stdin, args...)
	code, out := p.wait(t)
	return code, out, p.ErrOut.String()
}

// startNngcat starts nngcat with args. It is killed after catProcLimit,
// and at cleanup if still running; cleanup returns once it was waited for.
func startNngcat(t *testing.T, args ...string) *catProc {
	t.Helper()
	return &catProc{testkit.Exec(t, catProcLimit, nil, testkit.Nngcat(t), args...)}
}

// catFreePort returns a loopback TCP address nobody listens on right now,
// for nngcat to listen on.
func catFreePort(t *testing.T) string { return "127.0.0.1:" + testkit.FreePort(t) }

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
		case <-p.Done():
			t.Fatalf("%s ended (exit %d, stderr %q) before listening at %s", p, p.Code(), p.ErrOut, url)
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
