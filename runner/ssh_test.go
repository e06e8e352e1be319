package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/runner"
)

// sshSelf launches this test binary as the daemon over ssh to sshd.
func sshSelf(sshd *testkit.SSHD, out *syncBuffer, more ...runner.LaunchOption) []runner.LaunchOption {
	return append([]runner.LaunchOption{runner.WithSSHArgs(sshd.SSHArgs()...),
		runner.WithExecutable(os.Args[0], "-test.run=^TestHelperDaemonProcess$"), runner.WithOutput(out),
		runner.WithDaemonArgs("--log", "info"), runner.WithEnv("GORACE=atexit_sleep_ms=0"),
		runner.WithJoinTimeout(30 * time.Second)}, more...)
}

// daemonsOf returns the pids of processes whose command line holds url
// (the daemons dialling it), from /proc.
func daemonsOf(url string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(b), "\x00"+url+"\x00") || !strings.Contains(string(b), "TestHelperDaemonProcess") {
			continue
		}
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// waitNoDaemons waits (bounded) until no daemon process dials url: the
// remote end of a closed ssh session leaves on its own, with no event
// here to wait on.
func waitNoDaemons(t *testing.T, url string) {
	t.Helper()
	waitUntil(t, func() string { return fmt.Sprintf("daemon processes still running: %v", daemonsOf(url)) },
		func() bool { return len(daemonsOf(url)) == 0 })
}

// sshFixture is a dispatcher with daemons launched over ssh to a real
// sshd (this test binary), their exits reported on exits.
type sshFixture struct {
	sshd  *testkit.SSHD
	d     *runner.Dispatcher
	l     *runner.Launcher
	url   string
	exits chan *runner.Proc
	out   *syncBuffer
}

// launchSSH starts sshd, a dispatcher on url with dopts, and n daemons
// over ssh with more launch options; the test's end closes the
// dispatcher and waits for the daemon processes to go.
func launchSSH(t *testing.T, url string, dopts []runner.DispatcherOption, n int, more ...runner.LaunchOption) *sshFixture {
	t.Helper()
	fx := &sshFixture{sshd: testkit.StartSSHD(t), exits: make(chan *runner.Proc, 8), out: new(syncBuffer)}
	d, err := runner.NewDispatcher(url, dopts...)
	if err != nil {
		t.Fatal(err)
	}
	fx.d, fx.url = d, d.URL()
	t.Cleanup(func() {
		_ = d.Close()
		waitNoDaemons(t, fx.url)
	})
	more = append(more, runner.WithOnExit(func(p *runner.Proc) { fx.exits <- p }))
	if fx.l, err = d.LaunchSSH(ctxProc(t), fx.sshd.Host, n, sshSelf(fx.sshd, fx.out, more...)...); err != nil {
		t.Fatalf("%v\n%s\nsshd:\n%s", err, fx.out.String(), fx.sshd.Log())
	}
	return fx
}

// squares runs "square" on 0..n-1 and checks the results.
func squares(ctx context.Context, t *testing.T, d *runner.Dispatcher, n int) {
	t.Helper()
	in := make([]int, n)
	for i := range in {
		in[i] = i
	}
	out, err := runner.Map[int, int](ctx, d, "square", in)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("square(%d) = %d", i, v)
		}
	}
}

// replaced waits for the report that first has ended, with an error
// holding want, then until its daemon has left the dispatcher and a
// replacement has joined (online daemons again).
func replaced(ctx context.Context, t *testing.T, d *runner.Dispatcher, exits <-chan *runner.Proc, first *runner.Proc, want string, online int) {
	t.Helper()
	select {
	case p := <-exits:
		if p != first || p.Err() == nil || !strings.Contains(p.Err().Error(), want) {
			t.Fatalf("exit of %s: %v", p.ID, p.Err())
		}
	case <-ctx.Done():
		t.Fatal("no exit reported")
	}
	waitStatus(t, d, func(s runner.Status) bool {
		n := 0
		left := false
		for _, ds := range s.Daemons {
			if ds.Online {
				n++
			} else if ds.ID == first.ID {
				left = true
			}
		}
		return left && n == online
	})
}

// Daemons launched over a real sshd run tasks; the token and certificate
// travel on stdin, not on a command line; a killed ssh session is
// reported, its daemon leaves, and WithRestart replaces it; Close stops
// everything.
func TestLaunchSSH(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd and processes")
	}
	fx := launchSSH(t, "tls+tcp://127.0.0.1:0", nil, 2, runner.WithRestart(1))
	sshd, d, l, url, exits, out := fx.sshd, fx.d, fx.l, fx.url, fx.exits, fx.out
	ctx := ctxProc(t) // it waits for a new ssh session and daemon process
	s := status(t, d)
	if s.Connections != 2 || len(s.Daemons) != 2 || s.Daemons[0].ID == s.Daemons[1].ID || !strings.HasPrefix(s.Daemons[0].ID, "ssh-") {
		t.Fatalf("status %+v", s)
	}
	pid, err := runner.Submit[int](ctx, d, "pid", struct{}{}).Value(ctx)
	if err != nil || pid == os.Getpid() || pid == 0 {
		t.Fatalf("pid %d %v", pid, err)
	}
	// The token is on no command line: not ssh's, not the daemon's.
	token := d.Token()
	for _, p := range append(daemonsOf(url), l.Procs()[0].Pid()) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), token) || !strings.Contains(string(b), "--stdin") {
			t.Fatalf("command line of %d: %q", p, b)
		}
	}

	// Kill the first session's ssh client.
	first := l.Procs()[0]
	if first.Host != sshd.Host {
		t.Fatalf("host %q", first.Host)
	}
	if err := first.Kill(); err != nil {
		t.Fatal(err)
	}
	replaced(ctx, t, d, exits, first, sshd.Host, 2)
	if n := len(l.Procs()); n != 3 {
		t.Fatalf("%d sessions", n)
	}
	squares(ctx, t, d, 8)
	// One restart only: a second killed session is reported, not replaced.
	second := l.Procs()[1]
	if err := second.Kill(); err != nil {
		t.Fatal(err)
	}
	if p := <-exits; p != second {
		t.Fatalf("exit of %s", p.ID)
	}
	waitStatus(t, d, func(s runner.Status) bool { return s.Connections == 1 })
	if n := len(l.Procs()); n != 3 {
		t.Fatalf("%d sessions", n)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The live one left on the dispatcher's bye, and its session with it.
	third := l.Procs()[2]
	if err := third.Err(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "bye from the dispatcher") {
		t.Fatalf("daemon logs:\n%s", out.String())
	}
}

// An unreachable host, a refused key and a missing daemon binary each
// fail LaunchSSH with an error naming the host and saying why; no daemon
// is counted and no session is left.
func TestLaunchSSHBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd and processes")
	}
	sshd := testkit.StartSSHD(t)
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := ctxProc(t) // LaunchSSH starts ssh sessions
	var out syncBuffer
	cases := []struct {
		name, host string
		opts       []runner.LaunchOption
		want       string
	}{
		{"unreachable", "nobody@127.0.0.1", []runner.LaunchOption{runner.WithSSHArgs("-p", testkit.FreePort(t), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null")}, "Connection refused"},
		{"refused key", sshd.Host, []runner.LaunchOption{runner.WithSSHArgs("-F", sshd.BadKey)}, "Permission denied"},
		{"missing exe", sshd.Host, []runner.LaunchOption{runner.WithSSHArgs(sshd.SSHArgs()...), runner.WithExecutable("/nonexistent/nanoact")}, "nonexistent"},
	}
	for _, c := range cases {
		var mu sync.Mutex
		var exits []string
		opts := append(c.opts, runner.WithOutput(&out), runner.WithRestart(3), runner.WithOnExit(func(p *runner.Proc) {
			mu.Lock()
			exits = append(exits, p.ID)
			mu.Unlock()
		}))
		// One session: a second could be stopped in the middle of its
		// shell's start-up files (~/.bashrc) when the first fails.
		l, err := d.LaunchSSH(ctx, c.host, 1, opts...)
		if l != nil || err == nil {
			t.Fatalf("%s: launched", c.name)
		}
		var ne *nanoact.Error
		if !errors.As(err, &ne) || !strings.Contains(err.Error(), c.host) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: %v", c.name, err)
		if !errors.Is(err, nanoact.ErrUnreachable) {
			t.Fatalf("%s: code %v", c.name, err)
		}
		// The session ended (and was reported) before LaunchSSH returned,
		// and was not restarted: it never joined.
		mu.Lock()
		n := len(exits)
		mu.Unlock()
		if n != 1 {
			t.Fatalf("%s: exits %v", c.name, exits)
		}
	}
	s := status(t, d)
	if s.Connections != 0 || len(s.Daemons) != 0 {
		t.Fatalf("status %+v", s)
	}
	if _, err := d.LaunchSSH(ctx, "-oProxyCommand=x", 1); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf("option as host: %v", err)
	}
}

// WithTunnel: the daemon dials 127.0.0.1 on its host, and ssh -R carries
// the connection back to the dispatcher.
func TestLaunchSSHTunnel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts sshd and processes")
	}
	sshd := testkit.StartSSHD(t)
	d, err := runner.NewDispatcher("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	port := testkit.FreePort(t)
	rp, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	defer waitNoDaemons(t, "tcp://127.0.0.1:"+port)
	var out syncBuffer
	ctx := ctxProc(t) // LaunchSSH starts an ssh session and a daemon process
	l, err := d.LaunchSSH(ctx, sshd.Host, 1, sshSelf(sshd, &out, runner.WithTunnel(rp))...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if pids := daemonsOf("tcp://127.0.0.1:" + port); len(pids) != 1 {
		t.Fatalf("daemons dialling the tunnel: %v", pids)
	}
	if v, err := runner.Submit[int](ctx, d, "square", 7).Value(ctx); err != nil || v != 49 {
		t.Fatal(v, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Procs()[0].Err(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// A TLS dispatcher cannot be tunnelled.
	d2, err := runner.NewDispatcher("tls+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if _, err := d2.LaunchSSH(ctx, sshd.Host, 1, runner.WithTunnel(0)); !errors.Is(err, nanoact.ErrNotSupported) {
		t.Fatalf("tls tunnel: %v", err)
	}
}
