package runner_test

// The task runner beside a hand-written plain mangos v3 dispatcher, in the
// same run: the figures of issue 17's Speed paragraph.

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	mrep "go.nanomsg.org/mangos/v3/protocol/rep"
	mreq "go.nanomsg.org/mangos/v3/protocol/req"

	// Plain mangos' transports, in mangos' own table; nanoact's are its
	// own, under private scheme names, so both coexist in one process.
	_ "go.nanomsg.org/mangos/v3/transport/inproc"
	_ "go.nanomsg.org/mangos/v3/transport/ipc"
	_ "go.nanomsg.org/mangos/v3/transport/tcp"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/runner"
)

// benchWindow is the number of tasks outstanding at once in the
// throughput benchmarks, for both systems.
const benchWindow = 4096

// mangosPool is the baseline: the simplest reasonable worker pool a Go
// programmer would write over plain mangos v3 (default options). The
// dispatcher is a req socket with one context per worker slot, each
// driven by a goroutine that takes a task from a channel, sends it and
// waits for its reply; workers are rep sockets answering one task at a
// time. A task is its 8-byte id and an empty payload; the reply echoes
// the id.
type mangosPool struct {
	req   mangos.Socket
	tasks chan uint64
	wg    sync.WaitGroup // one per outstanding task
	loops sync.WaitGroup
	err   chan error
}

// newMangosPool listens on url with slots contexts and returns the pool
// (closed with the benchmark) and the address workers dial (the bound
// port for tcp port 0).
func newMangosPool(b *testing.B, url string, slots int) (*mangosPool, string) {
	b.Helper()
	req, err := mreq.NewSocket()
	if err != nil {
		b.Fatal(err)
	}
	p := &mangosPool{req: req, tasks: make(chan uint64, benchWindow), err: make(chan error, 1)}
	b.Cleanup(p.close)
	addr := testkit.MangosListen(b, req, url)
	for range slots {
		c, err := req.OpenContext()
		if err != nil {
			b.Fatal(err)
		}
		p.loops.Go(func() { p.loop(c) })
	}
	return p, addr
}

func (p *mangosPool) loop(c mangos.Context) {
	defer func() { _ = c.Close() }()
	for id := range p.tasks {
		m := mangos.NewMessage(8)
		m.Body = binary.BigEndian.AppendUint64(m.Body, id)
		err := c.SendMsg(m)
		if err == nil {
			var r *mangos.Message
			if r, err = c.RecvMsg(); err == nil {
				if len(r.Body) != 8 || binary.BigEndian.Uint64(r.Body) != id {
					err = errors.New("baseline: reply to another task")
				}
				r.Free()
			}
		}
		if err != nil {
			select {
			case p.err <- err:
			default:
			}
		}
		p.wg.Done()
	}
}

// run sends n tasks, up to benchWindow outstanding, and waits for their
// replies.
func (p *mangosPool) run(n int) error {
	p.wg.Add(n)
	for i := range n {
		p.tasks <- uint64(i)
	}
	p.wg.Wait()
	select {
	case err := <-p.err:
		return err
	default:
		return nil
	}
}

func (p *mangosPool) close() {
	close(p.tasks)
	p.loops.Wait()
	_ = p.req.Close()
}

// mangosWorker answers tasks on a rep socket dialled to url until the
// socket closes.
func mangosWorker(url string) (mangos.Socket, <-chan struct{}, error) {
	rep, err := mrep.NewSocket()
	if err != nil {
		return nil, nil, err
	}
	if err := rep.Dial(url); err != nil {
		_ = rep.Close()
		return nil, nil, err
	}
	return rep, testkit.MangosEcho(rep), nil // the echo: its id
}

// TestHelperBaselineWorker is a baseline worker process: this test binary
// re-executed by BenchmarkVsMangos with "baseline-worker URL". It exits
// when its standard input closes (the benchmark ended or died).
func TestHelperBaselineWorker(t *testing.T) {
	args := flag.Args()
	if len(args) != 2 || args[0] != "baseline-worker" {
		t.Skip("run as a worker process by BenchmarkVsMangos")
	}
	rep, done, err := mangosWorker(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = rep.Close()
	<-done
	os.Exit(0)
}

// benchSystem runs n empty tasks with up to benchWindow outstanding and
// waits for all of them.
type benchSystem func(n int) error

// nanoactSystem submits nop tasks (an int in, an int out) to d.
func nanoactSystem(d *runner.Dispatcher, task runner.Task[int, int]) benchSystem {
	ring := make([]*aio.Aio[int], benchWindow)
	ctx := context.Background()
	return func(n int) error {
		for i := range n {
			if a := ring[i%benchWindow]; a != nil {
				if _, err := a.Value(ctx); err != nil {
					return err
				}
			}
			ring[i%benchWindow] = task.Submit(ctx, d, i)
		}
		for i, a := range ring {
			if a != nil {
				if _, err := a.Value(ctx); err != nil {
					return err
				}
				ring[i] = nil
			}
		}
		return nil
	}
}

// compareRounds is the number of rounds compareSystems splits b.N into,
// alternating which system goes first, so that the load of a busy
// machine falls on both alike.
const compareRounds = 10

// compareSystems runs b.N tasks on each system, in compareRounds rounds
// whose order alternates, and reports each one's tasks/s and their ratio
// (x-mangos), and, with cpu, each one's CPU time per task in this process
// (user and system, from getrusage: what the machine's other load does
// not change).
func compareSystems(b *testing.B, cpu bool, na, base benchSystem) {
	var wall, used [2]time.Duration
	systems := [2]benchSystem{na, base}
	done := 0
	for r := range compareRounds {
		n := (b.N - done + compareRounds - 1 - r) / (compareRounds - r)
		if n == 0 {
			continue
		}
		done += n
		for k := range 2 {
			i := (k + r) % 2
			c0, start := cpuTime(), time.Now()
			if err := systems[i](n); err != nil {
				b.Fatal(err)
			}
			wall[i] += time.Since(start)
			used[i] += cpuTime() - c0
		}
	}
	naRate := float64(b.N) / wall[0].Seconds()
	baseRate := float64(b.N) / wall[1].Seconds()
	b.ReportMetric(naRate, "nanoact-tasks/s")
	b.ReportMetric(baseRate, "mangos-tasks/s")
	b.ReportMetric(naRate/baseRate, "x-mangos")
	if cpu {
		b.ReportMetric(float64(used[0].Microseconds())/float64(b.N), "nanoact-cpu-µs/task")
		b.ReportMetric(float64(used[1].Microseconds())/float64(b.N), "mangos-cpu-µs/task")
	}
	b.ReportMetric(0, "ns/op") // two systems: the rates say it
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkVsMangos is issue 17's Speed comparison: empty tasks through
// the task runner and through mangosPool, in the same run, with up to
// 4,096 tasks outstanding and one task at a time per worker (mirai's
// default) on both sides.
//
//   - inproc: both ends in this process, 4 in-process daemons beside 4
//     rep workers over mangos' inproc transport;
//   - ipc, tcp: 4 daemon processes beside 4 worker processes (this test
//     binary re-executed).
//
// x-mangos is the ratio of the rates, nanoact over mangos; in-process,
// the CPU time per task of each is reported too. Run it with a fixed
// count (-benchtime=40000x) so that each case sets up once.
func BenchmarkVsMangos(b *testing.B) {
	b.Run("inproc", func(b *testing.B) {
		d, nop := benchDispatcher(b, 4)
		pool, addr := newMangosPool(b, fmt.Sprintf("inproc://baseline-%d", os.Getpid()), 4)
		var workers []mangos.Socket
		var dones []<-chan struct{}
		b.Cleanup(func() {
			for i, w := range workers {
				_ = w.Close()
				<-dones[i]
			}
		})
		for range 4 {
			w, done, err := mangosWorker(addr)
			if err != nil {
				b.Fatal(err)
			}
			workers, dones = append(workers, w), append(dones, done)
		}
		compareSystems(b, true, nanoactSystem(d, nop), pool.run)
	})
	for _, tr := range []string{"ipc", "tcp"} {
		b.Run(tr, func(b *testing.B) {
			if testing.Short() {
				b.Skip("starts processes")
			}
			d := launchBenchDaemons(b, tr, "1")
			url := "tcp://127.0.0.1:0"
			if tr == "ipc" {
				url = "ipc://" + filepath.Join(b.TempDir(), "baseline.ipc")
			}
			pool, addr := newMangosPool(b, url, 4)
			for range 4 {
				startBaselineWorker(b, addr)
			}
			// The workers dial in their own time: wait until all answer.
			if err := pool.run(64); err != nil {
				b.Fatal(err)
			}
			compareSystems(b, false, nanoactSystem(d, runner.TaskNamed[int, int]("square")), pool.run)
		})
	}
}

// launchBenchDaemons starts 4 daemon processes (this test binary) over
// transport tr ("ipc" or "tcp"), each running max tasks at once, and
// waits until they have joined.
func launchBenchDaemons(b *testing.B, tr, max string) *runner.Dispatcher {
	b.Helper()
	d, err := runner.NewDispatcher("")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	opts := []runner.LaunchOption{runner.WithExecutable(os.Args[0], "-test.run=^TestHelperDaemonProcess$"), quickExit,
		runner.WithDaemonArgs("--max", max)}
	if tr == "tcp" {
		u, err := d.Listen("tcp://127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, runner.WithURL(u))
	}
	if _, err := d.LaunchLocal(4, opts...); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.WaitDaemons(ctx, 4); err != nil {
		b.Fatal(err)
	}
	return d
}

// startBaselineWorker starts a baseline worker process dialling addr; it
// ends when the benchmark does (its standard input closes).
func startBaselineWorker(b *testing.B, addr string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBaselineWorker$", "baseline-worker", addr)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}
