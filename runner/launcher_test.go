package runner_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

// processTasks is the registry of the daemon processes the tests launch:
// this test binary, re-executed (see TestHelperDaemonProcess).
func processTasks() *runner.Registry {
	reg := runner.NewRegistry()
	runner.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	runner.Register(reg, "pid", func(context.Context, struct{}) (int, error) { return os.Getpid(), nil })
	runner.Register(reg, "procs", func(context.Context, struct{}) (int, error) { return runtime.GOMAXPROCS(0), nil })
	runner.Register(reg, "sleep", func(ctx context.Context, d time.Duration) (int, error) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return os.Getpid(), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	runner.Register(reg, "spin", func(context.Context, int) (int, error) {
		for { // ignores its ctx: only killing its process stops it
		}
	})
	runner.Register(reg, "crash", func(context.Context, int) (int, error) {
		os.Exit(3)
		return 0, nil
	})
	return reg
}

// TestHelperDaemonProcess is not a test: it is the daemon process the
// launcher tests start, as "runner.test -test.run=^TestHelperDaemonProcess$
// daemon --dial URL ...".
func TestHelperDaemonProcess(t *testing.T) {
	args := flag.Args()
	if len(args) == 0 || args[0] != "daemon" {
		t.Skip("run as a daemon process by the launcher tests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := daemoncmd.MainArgs(ctx, processTasks(), args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// quickExit spares daemon processes built with -race the race detector's
// one-second sleep at exit.
var quickExit = runner.WithEnv("GORACE=atexit_sleep_ms=0")

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func launchSelf(out *syncBuffer) []runner.LaunchOption {
	return []runner.LaunchOption{runner.WithExecutable(os.Args[0], "-test.run=^TestHelperDaemonProcess$"), runner.WithOutput(out),
		runner.WithDaemonArgs("--log", "info"), runner.WithStopGrace(5 * time.Second), quickExit}
}

// Local process daemons: they run tasks in their own processes, a killed
// one loses only its task (re-queued here), and all exit when the
// dispatcher closes.
func TestLaunchLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	d, err := runner.NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out syncBuffer
	l, err := d.LaunchLocal(2, launchSelf(&out)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := d.WaitDaemons(ctx, 2); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if v, err := runner.Submit[int](ctx, d, "square", 9).Value(ctx); err != nil || v != 81 {
		t.Fatal(v, err)
	}
	pid, err := runner.Submit[int](ctx, d, "pid", struct{}{}).Value(ctx)
	if err != nil || pid == os.Getpid() || pid == 0 {
		t.Fatalf("pid %d %v", pid, err)
	}

	// Two long tasks, one per daemon; kill the first process.
	a := runner.Submit[int](ctx, d, "sleep", 300*time.Millisecond, runner.Requeue(1))
	b := runner.Submit[int](ctx, d, "sleep", 300*time.Millisecond, runner.Requeue(1))
	// Both run (their processes have no event to wait on here).
	waitStatus(t, d, func(s runner.Status) bool { return s.Executing == 2 })
	procs := l.Procs()
	if err := procs[0].Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Start(1); err != nil {
		t.Fatal(err)
	}
	pa, erra := a.Value(ctx)
	pb, errb := b.Value(ctx)
	if erra != nil || errb != nil || pa == procs[0].Pid() || pb == procs[0].Pid() {
		t.Fatalf("after kill: %d %v, %d %v", pa, erra, pb, errb)
	}
	// The replacement has joined (the killed one is gone, since its task
	// was re-queued), so that one daemon is left to say bye to after the
	// crash below, whichever of the two it takes (under load the
	// replacement joined only as Close began, and was refused).
	if err := d.WaitDaemons(ctx, 2); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	// A task that crashes its daemon fails with ErrConnReset.
	if _, err := runner.Submit[int](ctx, d, "crash", 0).Value(ctx); !errors.Is(err, nanoact.ErrConnReset) {
		t.Fatalf("crash: %v", err)
	}
	s := status(t, d)
	if s.Requeued != 1 || s.Lost != 2 || s.Completed != 4 || s.Failed != 1 {
		t.Fatalf("status %+v", s)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// The dispatcher's bye let the live ones exit cleanly.
	var clean int
	for _, p := range l.Procs() {
		if p.Err() == nil {
			clean++
		}
	}
	if clean != 1 || len(l.Procs()) != 3 {
		t.Fatalf("%d of %d exited cleanly\n%s", clean, len(l.Procs()), out.String())
	}
	if !strings.Contains(out.String(), "bye from the dispatcher") {
		t.Fatalf("daemon logs:\n%s", out.String())
	}
}

// Launch's command line, run by a shell as printed, joins a TLS
// dispatcher, and its daemon exits on the dispatcher's bye.
func TestLaunchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	t.Parallel()
	d, err := runner.NewDispatcher("tls+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	spec, err := d.Launch(os.Args[0], "--id", "remote-1")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Args[0] != "daemon" || spec.Args[2] != d.URL() {
		t.Fatalf("launch %+v", spec)
	}
	// This test binary needs its -test.run before "daemon".
	spec.Args = append([]string{"-test.run=^TestHelperDaemonProcess$"}, spec.Args...)
	var out syncBuffer
	cmd := exec.Command("sh", "-c", spec.String())
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx := ctxT(t)
	if err := d.WaitDaemons(ctx, 1); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("%v\n%s", err, out.String())
	}
	if v, err := runner.Submit[int](ctx, d, "square", 3).Value(ctx); err != nil || v != 9 {
		t.Fatal(v, err)
	}
	if s := status(t, d); s.Daemons[0].ID != "remote-1" {
		t.Fatalf("status %+v", s)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, exited); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, out.String())
	}
}

func TestLaunchText(t *testing.T) {
	t.Parallel()
	d, err := runner.NewDispatcher("tls+tcp://0.0.0.0:0", runner.WithAdvertise("head.example.org"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	spec, err := d.Launch("/opt/app/bin/app", "--max", "4")
	if err != nil {
		t.Fatal(err)
	}
	url := spec.Args[2]
	if !strings.HasPrefix(url, "tls+tcp://head.example.org:") {
		t.Fatalf("url %s", url)
	}
	env := strings.Join(spec.Env, "\n")
	if !strings.Contains(env, runner.EnvToken+"="+d.Token()) {
		t.Fatalf("env %q", env)
	}
	ca := base64.StdEncoding.EncodeToString(d.CertPEM())
	if !strings.Contains(env, runner.EnvTLSCA+"="+ca) || !strings.Contains(string(d.CertPEM()), "BEGIN CERTIFICATE") {
		t.Fatal("certificate not in the environment")
	}

	line := spec.String()
	for _, want := range []string{runner.EnvToken + "=" + d.Token(), "/opt/app/bin/app daemon --dial " + url + " --max 4"} {
		if !strings.Contains(line, want) {
			t.Errorf("command %q lacks %q", line, want)
		}
	}
	ssh := spec.SSH("alice@node1", "-f")
	if !strings.HasPrefix(ssh, "ssh -f alice@node1 '") || !strings.Contains(ssh, "/opt/app/bin/app daemon --dial") {
		t.Errorf("ssh %q", ssh)
	}
	slurm := spec.Slurm(runner.SlurmOptions{Daemons: 8, CPUsPerTask: 2, Time: "01:00:00", Extra: []string{"--partition=short"}})
	for _, want := range []string{"#!/bin/sh\n", "#SBATCH --ntasks=8\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --time=01:00:00\n",
		"#SBATCH --partition=short\n", "export " + runner.EnvToken + "=" + d.Token() + "\n", "srun --export=ALL /opt/app/bin/app daemon --dial " + url} {
		if !strings.Contains(slurm, want) {
			t.Errorf("slurm script lacks %q:\n%s", want, slurm)
		}
	}
	k8s := spec.Kubernetes(runner.KubernetesOptions{Image: "registry.example.org/app:1", Daemons: 4, CPU: "1", TokenSecret: "nanoact"})
	for _, want := range []string{"kind: Job\n", "parallelism: 4\n", `image: "registry.example.org/app:1"`,
		`command: ["/opt/app/bin/app", "daemon", "--dial", "` + url + `", "--max", "4"]`, "secretKeyRef:", "name: " + runner.EnvTLSCA} {
		if !strings.Contains(k8s, want) {
			t.Errorf("manifest lacks %q:\n%s", want, k8s)
		}
	}
	if strings.Contains(k8s, d.Token()) {
		t.Error("manifest holds the token despite TokenSecret")
	}

	plain, err := runner.NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Launch("app"); !errors.Is(err, nanoact.ErrState) {
		t.Fatalf("inproc-only launch: %v", err)
	}
}

// Local daemon processes exit when their dispatcher goes away without a
// bye (here its listener vanishes, as when its process dies).
func TestLaunchOrphaned(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	d, err := runner.NewDispatcher("")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out syncBuffer
	l, err := d.LaunchLocal(1, launchSelf(&out)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitDaemons(ctxT(t), 1); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, ln := range d.Socket().Listeners() {
		if strings.HasPrefix(ln.URL(), "ipc://") {
			_ = ln.Close()
		}
	}
	p := l.Procs()[0]
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("orphaned daemon still running\n%s", out.String())
	}
	if p.Err() == nil || !strings.Contains(out.String(), "connection to the dispatcher lost") {
		t.Fatalf("orphan exit: %v\n%s", p.Err(), out.String())
	}
}
