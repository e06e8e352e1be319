package runner

import (
	"os"
	"runtime"
	"strconv"
)

// localProcs returns env with GOMAXPROCS set for one of n local daemon
// processes: this process's GOMAXPROCS divided among them, at least 1.
// n Go processes on one machine that each schedule on every CPU spend
// their wake-ups waking and parking threads that contend for the same
// cores (a task's round trip crosses several goroutines); sharing the
// CPUs out keeps each daemon's hand-offs on one thread, as mirai's
// single-threaded daemons are. It is put first, so that a GOMAXPROCS in
// env (WithEnv) wins; env is returned as it is when this process's
// environment sets GOMAXPROCS, which the daemons then inherit.
func localProcs(env []string, n int) []string {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return env
	}
	p := max(1, runtime.GOMAXPROCS(0)/max(n, 1))
	return append([]string{"GOMAXPROCS=" + strconv.Itoa(p)}, env...)
}
