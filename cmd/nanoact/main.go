// Command nanoact is nanoact's command-line tool.
//
//	nanoact bench [flags]       req/rep latency and push/pull throughput of
//	                            nanoact, plain mangos and C NNG, side by side
//	nanoact cat [flags]         send and print messages on one socket, with
//	                            nngcat's options and formats
//	nanoact daemon --dial URL   a task-runner daemon for a dispatcher
//	                            (built-in tasks: nop, echo, sleep)
//	nanoact dashboard [flags]   a dispatcher's live web page and /metrics,
//	                            with in-process daemons and a demo load
//	nanoact messenger [flags]   a two-party console chat over a pair
//	                            socket, with nanonext's key check
//
// Run "nanoact help" for the list of subcommands and "nanoact help CMD"
// for one subcommand's flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args with the given output streams and
// returns the process exit status: 0 on success, 1 when a command fails,
// 2 for a usage error (unknown command or flag, bad flag value).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "nanoact: %v\n", err)
	if errors.As(err, new(usageError)) || strings.HasPrefix(err.Error(), "unknown command") {
		return 2
	}
	return 1
}

// usageError marks an error in the command line rather than in the work
// it asked for; run exits with status 2 for it.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// commands holds the subcommands. Each subcommand lives in its own file as
// an exported method of commands that returns its *cobra.Command, for
// example
//
//	func (commands) Bench() *cobra.Command { ... }   // bench.go
//
// newRoot finds the methods by reflection and adds them in name order, so
// adding a subcommand (cat, messenger, daemon, ...) is adding one file: no
// list to edit here, no init() registration, no package-level state. A
// command reaches its output through cmd.OutOrStdout and cmd.ErrOrStderr
// and its context through cmd.Context.
type commands struct{}

// newRoot returns the root command with every subcommand of commands. A
// method of commands with another signature is a programming error and
// panics here, at start-up (TestCommands checks it).
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "nanoact",
		Short: "NNG's scalability protocols in Go: tools and benchmarks",
		Long: "nanoact is nanonext for Go: NNG's scalability-protocol sockets on mangos,\n" +
			"speaking NNG's wire protocol. This tool hosts its command-line utilities.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	v := reflect.ValueOf(commands{})
	want := reflect.TypeFor[func() *cobra.Command]()
	var subs []*cobra.Command
	for i := range v.NumMethod() {
		m := v.Method(i)
		if m.Type() != want {
			panic(fmt.Sprintf("nanoact: commands.%s must be func() *cobra.Command, is %s", v.Type().Method(i).Name, m.Type()))
		}
		subs = append(subs, m.Interface().(func() *cobra.Command)())
	}
	slices.SortFunc(subs, func(a, b *cobra.Command) int { return strings.Compare(a.Name(), b.Name()) })
	root.AddCommand(subs...)
	return root
}
