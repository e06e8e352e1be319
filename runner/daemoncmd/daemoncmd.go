package daemoncmd

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/runner"
)

// Main runs a daemon process for the tasks in reg and exits: call it
// first thing in main when the program is started as a daemon, e.g.
//
//	if len(os.Args) > 1 && os.Args[1] == "daemon" {
//		daemoncmd.Main(reg)
//	}
//
// It reads the command line after "daemon" (see MainArgs), stops on
// SIGINT or SIGTERM, and exits with status 0 when the dispatcher let it
// go, 1 when it failed, 2 for a usage error. It never returns.
func Main(reg *runner.Registry, opts ...runner.DaemonOption) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "daemon" {
		args = args[1:]
	}
	code := MainArgs(ctx, reg, args, os.Stderr, opts...)
	stop()
	os.Exit(code)
}

// MainArgs runs a daemon for the tasks in reg as the command line args
// (without "daemon") asks, logs to stderr, and returns the exit status: 0
// when the dispatcher let it go (bye) or ctx ended, 1 when it failed
// (refused, connection lost, dial failed), 2 for a usage error. It blocks
// for the daemon's life. opts come before the flags' own. Flags:
//
//	--dial URL       the dispatcher (or $NANOACT_DIAL)
//	--token TOKEN    the session token (default $NANOACT_TOKEN)
//	--tls-ca FILE    PEM certificate to trust (default: base64 PEM in $NANOACT_TLS_CA)
//	--id ID          the daemon's id (default host/pid/n)
//	--max N          tasks run at once (default 1)
//	--tasks N        exit after N tasks (default 0: no limit)
//	--idle DURATION  leave after this long without a task (default 0: never)
//	--grace DURATION exit when the connection stays lost this long (default 10s)
//	--walltime DURATION leave after this long, finishing the running tasks
//	                 (runner.WithWallTime; default 0: never)
//	--finish         let the running tasks finish when the dispatcher goes
//	                 away, then exit (runner.WithFinishRunning)
//	--interrupt-grace DURATION when stopping, wait this long for tasks that
//	                 ignore their cancel, then exit all the same
//	                 (runner.WithInterruptGrace; default 1s)
//	--max-frame N    largest task or result in bytes (runner.WithMaxFrame; default 64 MiB)
//	--log LEVEL      debug, info, warn (default), error, or none
//	--stdin          read the token ($NANOACT_TOKEN=...) and certificate
//	                 ($NANOACT_TLS_CA=...) as lines from stdin up to an empty
//	                 line, and leave when stdin closes (runner's LaunchSSH)
func MainArgs(ctx context.Context, reg *runner.Registry, args []string, stderr io.Writer, opts ...runner.DaemonOption) int {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // MainArgs prints the errors and usage itself
	dial := fs.String("dial", os.Getenv(runner.EnvDial), "URL of the dispatcher")
	token := fs.String("token", "", "session token (default $"+runner.EnvToken+")")
	caFile := fs.String("tls-ca", "", "PEM certificate to trust (default: base64 PEM in $"+runner.EnvTLSCA+")")
	fromStdin := fs.Bool("stdin", false, "read the token and certificate as NAME=value lines from stdin up to an empty line; leave when stdin closes")
	id := fs.String("id", "", "daemon id (default host/pid/n)")
	maxc := fs.Int("max", 1, "tasks run at once")
	tasks := fs.Int("tasks", 0, "exit after this many tasks (0: no limit)")
	idle := fs.Duration("idle", 0, "leave after this long without a task (0: never)")
	grace := fs.Duration("grace", 10*time.Second, "exit when the connection stays lost this long")
	walltime := fs.Duration("walltime", 0, "leave after this long, finishing the running tasks (0: never)")
	finish := fs.Bool("finish", false, "let the running tasks finish when the dispatcher goes away, then exit")
	intGrace := fs.Duration("interrupt-grace", runner.DefaultInterruptGrace, "when stopping, wait this long for tasks that ignore their cancel")
	maxFrame := fs.Int("max-frame", runner.DefaultMaxFrame, "largest task or result in bytes")
	level := fs.String("log", "warn", "log level: debug, info, warn, error, none")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs, stderr)
			return 0
		}
		// The flag package names a flag as -name; say --name, as usage does.
		fmt.Fprintf(stderr, "daemon: %s\n", strings.NewReplacer("defined: -", "defined: --", "flag -", "flag --").Replace(err.Error()))
		usage(fs, stderr)
		return 2
	}
	if *dial == "" || fs.NArg() > 0 {
		usage(fs, stderr)
		return 2
	}
	if *token == "" {
		*token = os.Getenv(runner.EnvToken)
	}
	if *fromStdin {
		sctx, cancel, err := readStdin(ctx, os.Stdin, token)
		if err != nil {
			fmt.Fprintf(stderr, "daemon: --stdin: %v\n", err)
			return 2
		}
		defer cancel()
		ctx = sctx
	}
	log, err := daemonLogger(*level, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "daemon: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	all := append([]runner.DaemonOption{runner.WithToken(*token), runner.WithLogger(log), runner.WithConcurrency(*maxc), runner.WithMaxTasks(*tasks),
		runner.WithIdleExit(*idle), runner.WithReconnectGrace(*grace), runner.WithMaxFrame(*maxFrame), runner.WithWallTime(*walltime),
		runner.WithInterruptGrace(*intGrace)}, opts...)
	if *finish {
		all = append(all, runner.WithFinishRunning())
	}
	if *id != "" {
		all = append(all, runner.WithDaemonID(*id))
	}
	switch {
	case *caFile != "":
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "daemon: %v\n", err)
			return 2
		}
		all = append(all, runner.WithTrustCert(pem))
	case os.Getenv(runner.EnvTLSCA) != "":
		pem, err := base64.StdEncoding.DecodeString(os.Getenv(runner.EnvTLSCA))
		if err != nil {
			fmt.Fprintf(stderr, "daemon: $%s: %v\n", runner.EnvTLSCA, err)
			return 2
		}
		all = append(all, runner.WithTrustCert(pem))
	}
	err = runner.RunDaemon(ctx, reg, *dial, all...)
	switch {
	case err == nil, ctx.Err() != nil && errors.Is(err, nanoact.ErrCanceled):
		return 0
	default:
		log.Error("daemon stopped", zap.Error(err))
		return 1
	}
}

func daemonLogger(level string, w io.Writer) (*zap.Logger, error) {
	if level == "none" {
		return zap.NewNop(), nil
	}
	lv, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), lv)
	return zap.New(core), nil
}

// flagArgs names the value each flag takes, as MainArgs' doc does.
var flagArgs = map[string]string{"dial": "URL", "token": "TOKEN", "tls-ca": "FILE", "id": "ID", "max": "N",
	"tasks": "N", "idle": "DURATION", "grace": "DURATION", "walltime": "DURATION", "interrupt-grace": "DURATION", "max-frame": "N", "log": "LEVEL"}

// usage prints the command line and the flags in the --name style that
// "nanoact daemon --help" shows, rather than the flag package's -name.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintln(w, "usage: daemon --dial URL [flags]")
	fmt.Fprintln(w, "flags:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if a, ok := flagArgs[f.Name]; ok {
			arg = a
		}
		if arg != "" {
			arg = " " + strings.ToUpper(arg)
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && !strings.Contains(text, "default") {
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, arg, text)
	})
	_ = tw.Flush()
}
