//go:build !unix

package aio_test

import "time"

// cpuTime reports false: the process's CPU time is read on unix only.
func cpuTime() (time.Duration, bool) { return 0, false }
