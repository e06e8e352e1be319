package main

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/nanoact/nanoact/internal/testkit"
)

// msgrHelperEnv makes the test binary run main's run with the arguments
// after "--" instead of the tests (the os/exec helper-process pattern), so
// that the messenger runs as a process on a terminal, race-checked.
const msgrHelperEnv = "NANOACT_TEST_RUN_MAIN"

// TestMessengerHelperProcess is not a test: it is the messenger process
// of TestMessenger.
func TestMessengerHelperProcess(t *testing.T) {
	if os.Getenv(msgrHelperEnv) != "1" {
		t.Skip("runs only as TestMessenger's child process")
	}
	args := os.Args[slices.Index(os.Args, "--")+1:]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// msgrTerm is a messenger process on a pseudo-terminal.
type msgrTerm struct {
	t    *testing.T
	name string
	tty  *os.File
	out  *testkit.Buffer // what the terminal shows, "\r\n" as written
	pos  int             // where expect looks from
	done chan struct{}
	err  error         // Wait's result, after done
	read chan struct{} // closed once the terminal's output is all read
}

// startMessenger starts "nanoact messenger args..." on a new terminal.
// Cleanup kills it if still running and waits for it.
func startMessenger(t *testing.T, name string, args ...string) *msgrTerm {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), catProcLimit)
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^TestMessengerHelperProcess$", "--", "messenger"}, args...)...)
	cmd.Env = append(os.Environ(), msgrHelperEnv+"=1", "TZ=UTC")
	cmd.WaitDelay = time.Second
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		cancel()
		t.Fatalf("start %s on a pty: %v", name, err)
	}
	m := &msgrTerm{t: t, name: name, tty: tty, out: testkit.NewBuffer(), done: make(chan struct{}), read: make(chan struct{})}
	go func() {
		defer close(m.read)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			m.out.Write(buf[:n])
			if err != nil {
				return // EIO once the process has exited and closed the terminal
			}
		}
	}()
	go func() {
		m.err = cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
		_ = tty.Close()
		<-m.read
	})
	return m
}

// screen returns what the terminal showed, with "\r\n" as "\n".
func (m *msgrTerm) screen() string { return strings.ReplaceAll(m.out.String(), "\r\n", "\n") }

// expect waits until the terminal shows a match of re after the last
// match, and returns its submatches.
func (m *msgrTerm) expect(re string) []string {
	m.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.NewTimer(catWaitLimit)
	defer deadline.Stop()
	for {
		s := m.screen()
		if loc := rx.FindStringSubmatchIndex(s[m.pos:]); loc != nil {
			var subs []string
			for i := 0; i < len(loc); i += 2 {
				subs = append(subs, s[m.pos+loc[i]:m.pos+loc[i+1]])
			}
			m.pos += loc[1]
			return subs
		}
		select {
		case <-m.out.Grew():
		case <-deadline.C:
			m.t.Fatalf("%s: no %q after %q within %v", m.name, re, s[m.pos:], catWaitLimit)
		}
	}
}

// typeLine types line and return.
func (m *msgrTerm) typeLine(line string) {
	m.t.Helper()
	if _, err := m.tty.WriteString(line + "\r"); err != nil {
		m.t.Fatalf("%s: type %q: %v", m.name, line, err)
	}
}

// exit waits for the process to end, and for what it wrote last to be
// read off the terminal, and returns its exit status.
func (m *msgrTerm) exit() int {
	m.t.Helper()
	select {
	case <-m.done:
	case <-time.After(catWaitLimit):
		m.t.Fatalf("%s did not exit; the terminal shows %q", m.name, m.screen())
	}
	select {
	case <-m.read: // the terminal reads EIO once the output is drained
	case <-time.After(catWaitLimit):
		m.t.Fatalf("%s exited, but its terminal did not close; it shows %q", m.name, m.screen())
	}
	var ee *exec.ExitError
	if errors.As(m.err, &ee) {
		return ee.ExitCode()
	}
	if m.err != nil {
		m.t.Fatalf("%s: %v", m.name, m.err)
	}
	return 0
}

const msgrTS = `(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)`

// TestMessenger runs messengers as processes on pseudo-terminals: the
// first listens and is offline, a second with the same secret joins and
// authenticates, lines typed on each show on the other with their times,
// empty lines are not sent, ":q" leaves with a notice, a message with no
// peer is "not sent", peers with a wrong secret or none are refused,
// Ctrl-D and Ctrl-C leave too.
func TestMessenger(t *testing.T) {
	secret := t.TempDir() + "/secret"
	if err := os.WriteFile(secret, []byte("open sesame"), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := startMessenger(t, "alice", "tcp://127.0.0.1:0", "--auth", "open sesame")
	alice.expect(`^\n\r n\r n a\r.*\r n a n o n e x t   m e s s e n g e r\n`)
	url := alice.expect(`\| url: (tcp://127\.0\.0\.1:\d+)\n`)[1]
	alice.expect(`\| peer offline: ` + msgrTS + `\ntype your message:\n`)

	bob := startMessenger(t, "bob", url, "--auth-file", secret)
	bob.expect(`\| url: ` + regexp.QuoteMeta(url) + `\n\| peer online: ` + msgrTS + `\n\| authenticated\ntype your message:\n`)
	alice.expect(`\| <- peer connected: ` + msgrTS + `\n`)

	// A line typed shows (the terminal's echo), then its send time under
	// its end; the peer shows it with its arrival time.
	bob.typeLine("hello alice")
	bob.expect(`hello alice\n {11} > ` + msgrTS + `\n`)
	alice.expect(`^hello alice\n {12}< ` + msgrTS + `\n`)
	// An empty line is not sent.
	bob.typeLine("")
	bob.typeLine("again")
	bob.expect(`again\n {5} > ` + msgrTS + `\n`)
	if got := alice.expect(`^(.*)\n *< ` + msgrTS + `\n`); got[1] != "again" {
		t.Fatalf("alice received %q after bob's empty line; want \"again\"", got[1])
	}
	alice.typeLine("hi bob")
	alice.expect(`hi bob\n {6} > ` + msgrTS + `\n`)
	bob.expect(`^hi bob\n {7}< ` + msgrTS + `\n`)

	bob.typeLine(":q")
	bob.expect(`\| messenger session ended: ` + msgrTS + `\n`)
	if code := bob.exit(); code != 0 {
		t.Fatalf("bob exited with %d", code)
	}
	alice.expect(`\| -> peer disconnected: ` + msgrTS + `\n`)
	alice.typeLine("anyone?")
	alice.expect(`anyone\?\n {7} > not sent: peer offline: ` + msgrTS + `\n`)

	// Wrong secrets: the joining party checks alice's key and leaves.
	for _, who := range []struct {
		name string
		args []string
	}{{"mallory", []string{"--auth", "open sesame!"}}, {"nobody", nil}} {
		m := startMessenger(t, who.name, append([]string{url}, who.args...)...)
		m.expect(`\| peer online: ` + msgrTS + `\n\| authentication failed\n`)
		if code := m.exit(); code != 1 {
			t.Fatalf("%s exited with %d, want 1", who.name, code)
		}
		if !strings.Contains(m.screen(), "nanoact: messenger: the peer did not prove the shared secret") {
			t.Fatalf("%s: %q", who.name, m.screen())
		}
		if strings.Contains(m.screen(), "type your message") {
			t.Fatalf("%s was let in: %q", who.name, m.screen())
		}
		alice.expect(`\| <- peer connected: ` + msgrTS + `\n\| -> peer disconnected: ` + msgrTS + `\n`)
	}

	// Ctrl-D (end of input) leaves as ":q" does.
	carol := startMessenger(t, "carol", url, "--auth", "open sesame")
	carol.expect(`\| authenticated\ntype your message:\n`)
	alice.expect(`\| <- peer connected: ` + msgrTS + `\n`)
	if _, err := carol.tty.Write([]byte{4}); err != nil {
		t.Fatal(err)
	}
	carol.expect(`\| messenger session ended: ` + msgrTS + `\n`)
	if code := carol.exit(); code != 0 {
		t.Fatalf("carol exited with %d", code)
	}
	alice.expect(`\| -> peer disconnected: ` + msgrTS + `\n`)

	// Ctrl-C (SIGINT) too.
	if _, err := alice.tty.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	alice.expect(`\| messenger session ended: ` + msgrTS + `\n`)
	if code := alice.exit(); code != 0 {
		t.Fatalf("alice exited with %d; the terminal shows %q", code, alice.screen())
	}
}

// TestMessengerUsage checks the messenger's command-line and URL errors.
func TestMessengerUsage(t *testing.T) {
	code, out, errOut := runMessengerCLI(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "want one URL") {
		t.Fatalf("no URL: exit %d, %q, %q", code, out, errOut)
	}
	code, _, errOut = runMessengerCLI(t, "carrier-pigeon://x")
	if code != 1 || !strings.Contains(errOut, "9 | Not supported") {
		t.Fatalf("bad URL: exit %d, %q", code, errOut)
	}
	code, _, errOut = runMessengerCLI(t, "tcp://127.0.0.1:1", "--auth", "a", "--auth-file", "b")
	if code != 2 || !strings.Contains(errOut, "not both") {
		t.Fatalf("two secrets: exit %d, %q", code, errOut)
	}
}

func runMessengerCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	out, errOut := testkit.NewBuffer(), testkit.NewBuffer()
	code := run(context.Background(), append([]string{"messenger"}, args...), out, errOut)
	return code, out.String(), errOut.String()
}

// TestMessengerKey checks the key against nanonext's rules: positions 1
// to 20 in some order, then the lock's characters there, 160 bytes of
// little-endian int32 on the wire.
func TestMessengerKey(t *testing.T) {
	lock := messengerLock([]byte("k"))
	if len(lock) != 64 || strings.Trim(string(lock), "0123456789abcdef") != "" {
		t.Fatalf("lock %q: want 64 lower-case hex digits", lock)
	}
	key := messengerKey(lock)
	pos := slices.Clone(key[:20])
	slices.Sort(pos)
	for i, p := range pos {
		if p != int32(i+1) {
			t.Fatalf("positions %v: want a permutation of 1..20", key[:20])
		}
	}
	for i := range 20 {
		if key[20+i] != int32(lock[key[i]-1]) {
			t.Fatalf("key %v does not match lock %q at %d", key, lock, i)
		}
	}
	wire := encodeMessengerKey(key)
	if len(wire) != 160 || binary.LittleEndian.Uint32(wire[4*20:]) != uint32(key[20]) {
		t.Fatalf("wire form % x", wire)
	}
	if !verifyMessengerKey(lock, wire) {
		t.Fatal("own key refused")
	}
	if verifyMessengerKey(messengerLock([]byte("K")), wire) {
		t.Fatal("key accepted under another secret")
	}
	for _, bad := range [][]byte{nil, wire[:159], append(slices.Clone(wire), 0, 0, 0, 0), []byte(msgrConnect)} {
		if verifyMessengerKey(lock, bad) {
			t.Fatalf("accepted %d bytes", len(bad))
		}
	}
	outOfRange := slices.Clone(wire)
	binary.LittleEndian.PutUint32(outOfRange, 65)
	if verifyMessengerKey(lock, outOfRange) {
		t.Fatal("accepted a position outside the lock")
	}
}
