package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

// builtinTasks is what "nanoact daemon" can run: a daemon runs only the
// tasks its binary registered, and this binary registers these. Programs
// with tasks of their own call daemoncmd.Main from their main instead.
func builtinTasks() *runner.Registry {
	reg := runner.NewRegistry()
	runner.Register(reg, "nop", func(context.Context, any) (struct{}, error) { return struct{}{}, nil })
	runner.Register(reg, "echo", func(_ context.Context, v any) (any, error) { return v, nil })
	runner.Register(reg, "sleep", func(ctx context.Context, ms float64) (float64, error) {
		t := time.NewTimer(time.Duration(ms * float64(time.Millisecond)))
		defer t.Stop()
		select {
		case <-t.C:
			return ms, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	return reg
}

// Daemon returns the daemon command: a task-runner daemon that dials a
// dispatcher and runs the built-in tasks (nop, echo, sleep) until the
// dispatcher lets it go.
func (commands) Daemon() *cobra.Command {
	return &cobra.Command{
		Use:   "daemon --dial URL [flags]",
		Short: "Run a task-runner daemon for a dispatcher (built-in tasks: nop, echo, sleep)",
		Long: `daemon joins the task runner's dispatcher at --dial and runs the tasks it is sent
until the dispatcher says bye, the connection stays lost for --grace, or it is
interrupted. The session token comes from --token or $` + runner.EnvToken + `, and for
tls+tcp:// and wss:// the dispatcher's certificate from --tls-ca or $` + runner.EnvTLSCA + `
(base64 PEM); Dispatcher.Launch prints the whole command.

This binary's tasks are nop (any argument, returns nothing), echo (returns its
argument) and sleep (milliseconds; returns them). Programs with tasks of their
own build their daemon with daemoncmd.Main.

Flags:
  --dial URL        the dispatcher (or $` + runner.EnvDial + `)
  --token TOKEN     the session token (default $` + runner.EnvToken + `)
  --tls-ca FILE     PEM certificate to trust (default $` + runner.EnvTLSCA + `)
  --id ID           the daemon's id (default host/pid/n)
  --max N           tasks run at once (default 1)
  --tasks N         exit after N tasks (default 0: no limit)
  --idle DURATION   leave after this long without a task (default 0: never)
  --grace DURATION  exit when the connection stays lost this long (default 10s)
  --walltime DURATION  leave after this long, finishing the running tasks
                    (default 0: never)
  --finish          let the running tasks finish when the dispatcher goes away,
                    then exit
  --interrupt-grace DURATION  when stopping, wait this long for tasks that
                    ignore their cancel, then exit all the same (default 1s)
  --max-frame N     largest task or result in bytes (default 64 MiB)
  --stdin           read the token and CA from standard input (NAME=value lines
                    up to an empty line), and leave when it closes (LaunchSSH)
  --log LEVEL       debug, info, warn (default), error, none`,
		DisableFlagParsing: true, // daemoncmd.MainArgs parses them
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "--help" || a == "-h" || a == "-help" {
					return cmd.Help()
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM)
			defer stop()
			switch code := daemoncmd.MainArgs(ctx, builtinTasks(), args, cmd.ErrOrStderr()); code {
			case 0:
				return nil
			case 2:
				return usageError{fmt.Errorf("daemon: bad command line")}
			default:
				return fmt.Errorf("daemon exited with status %d", code)
			}
		},
	}
}
