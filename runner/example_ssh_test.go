package runner_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nanoact/nanoact/runner"
)

// LaunchSSH starts daemons on another machine through the system ssh
// client: here four daemons of /opt/app/bin/app on node1, which reaches
// the dispatcher at head.example.org over TLS. The token and certificate
// go on the ssh session's stdin. A daemon whose session dies is logged,
// reported to the WithOnExit function and, up to twice, replaced. (Not
// run: it needs a host to log in to.)
func ExampleDispatcher_LaunchSSH() {
	reg := runner.NewRegistry()
	square := runner.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	d, err := runner.NewDispatcher("tls+tcp://0.0.0.0:5555", runner.WithRegistry(reg), runner.WithAdvertise("head.example.org"))
	if err != nil {
		panic(err)
	}
	defer d.Close() // says bye: the daemons exit and their sessions end
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = d.LaunchSSH(ctx, "me@node1", 4,
		runner.WithExecutable("/opt/app/bin/app"),
		runner.WithSSHArgs("-J", "gateway.example.org"),
		runner.WithRestart(2),
		runner.WithOnExit(func(p *runner.Proc) { fmt.Println(p.ID, "on", p.Host, "ended:", p.Err()) }))
	if err != nil {
		panic(err) // names the host and gives ssh's last words
	}
	out, err := square.Map(ctx, d, []int{1, 2, 3, 4})
	fmt.Println(out, err)
}
