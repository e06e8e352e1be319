// Package daemoncmd is the command line of a task-runner daemon process:
// the "daemon" subcommand of a program whose tasks a runner.Dispatcher
// runs in child processes (LaunchLocal) or on other machines (Launch).
//
// Main parses os.Args, runs the daemon until the dispatcher lets it go or
// a signal stops it, and calls os.Exit; MainArgs does the same work on
// given arguments and returns the exit status instead, for tests and
// programs with their own main loop. The runner's core (package runner)
// neither parses flags nor exits, so a library user who runs daemons in
// its own way never depends on this package.
//
//	func main() {
//		reg := runner.NewRegistry()
//		runner.Register(reg, "square", square)
//		if len(os.Args) > 1 && os.Args[1] == "daemon" {
//			daemoncmd.Main(reg) // never returns
//		}
//		// ... the dispatcher side: runner.NewDispatcher, LaunchLocal ...
//	}
package daemoncmd
