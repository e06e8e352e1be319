//go:build !linux

package transport

// physicalMemory is only known on Linux; elsewhere DefaultRecvBudget uses
// GOMEMLIMIT or its fallback.
func physicalMemory() int64 { return 0 }
