package transport

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The receive budget bounds, process-wide, the bytes held in messages that
// are still arriving: a peer announces a length and the receiver must hold
// what it sent until the rest comes. A Go program cannot survive a failed
// allocation, so no peer may drive it there, whatever the receive limits
// of its sockets say (0 = unlimited is still allowed). Every tcp, ipc,
// abstract, tls+tcp, ws and wss pipe charges the budget for the buffers of
// a message longer than its read buffer (32 KiB on tcp, ipc and abstract,
// 8 KiB on ws) while that message arrives, and releases them once the
// message is whole (or the pipe fails). A message
// whose next buffer would take the total past the budget closes its pipe,
// which is reported to LimitEvents.OnRecvBudget; other pipes carry on.
//
// It is package state because the memory it guards is a process-wide
// resource, like the ws port registry.
var budget recvBudget

const (
	// minDefaultBudget is the floor of DefaultRecvBudget.
	minDefaultBudget = 64 << 20

	// fallbackBudget is DefaultRecvBudget when no memory size is known.
	fallbackBudget = 1 << 30
)

type recvBudget struct {
	limit   atomic.Int64 // 0: DefaultRecvBudget
	held    atomic.Int64
	peak    atomic.Int64
	refused atomic.Int64
}

// max returns the budget in force.
func (b *recvBudget) max() int64 {
	if n := b.limit.Load(); n > 0 {
		return n
	}
	return defaultBudget()
}

// reserve charges n bytes, or refuses them (false) if that would take the
// bytes held past the budget.
func (b *recvBudget) reserve(n int64) bool {
	lim := b.max()
	for {
		h := b.held.Load()
		if h+n > lim {
			return false
		}
		if b.held.CompareAndSwap(h, h+n) {
			for p := b.peak.Load(); h+n > p && !b.peak.CompareAndSwap(p, h+n); p = b.peak.Load() {
			}
			return true
		}
	}
}

// release returns n bytes charged by reserve.
func (b *recvBudget) release(n int64) {
	if n != 0 {
		b.held.Add(-n)
	}
}

// SetRecvBudget sets the process-wide receive budget: the most bytes that
// all pipes of the process together may hold in messages still arriving
// (see RecvBudgetStats). n > 0 sets it in bytes; n <= 0 restores
// DefaultRecvBudget. It returns the budget that was in force. A change
// applies to the next buffer any pipe asks for; bytes already held stay
// held. It does not block.
func SetRecvBudget(n int64) (old int64) {
	old = budget.max()
	budget.limit.Store(max(n, 0))
	return old
}

// BudgetStats are the receive budget's figures, from RecvBudgetStats.
type BudgetStats struct {
	Limit   int64 // the budget in force, bytes
	Held    int64 // bytes held now in messages still arriving
	Peak    int64 // the most bytes held at once since the process started
	Refused int64 // messages refused (and their pipes closed) so far
}

// RecvBudgetStats returns the receive budget's figures. Each is read
// atomically on its own. It does not block.
func RecvBudgetStats() BudgetStats {
	return BudgetStats{
		Limit:   budget.max(),
		Held:    budget.held.Load(),
		Peak:    budget.peak.Load(),
		Refused: budget.refused.Load(),
	}
}

// DefaultRecvBudget returns the receive budget used unless SetRecvBudget
// set one: a quarter of the smallest of the Go memory limit (GOMEMLIMIT,
// as debug.SetMemoryLimit reports it, when set), the cgroup memory limit
// (Linux, v2 or v1) and the machine's physical memory, but at least
// 64 MiB; 1 GiB when none of these is known. The memory sizes are read
// once, on first use; GOMEMLIMIT on every call (a few hundred ns). While
// no budget is set, the one in force is this function's value when a
// pipe first needed it (the data path does not read GOMEMLIMIT again).
func DefaultRecvBudget() int64 {
	mem := systemMemory()
	if gl := debug.SetMemoryLimit(-1); gl > 0 && gl < math.MaxInt64 && (mem == 0 || gl < mem) {
		mem = gl
	}
	if mem <= 0 {
		return fallbackBudget
	}
	return max(mem/4, minDefaultBudget)
}

// defaultBudget caches DefaultRecvBudget for the data path, which must not
// take the runtime's heap lock per message.
var defaultBudget = sync.OnceValue(DefaultRecvBudget)

// systemMemory is the smaller of physical memory and the cgroup limit, 0
// if neither is known. It is read once.
var systemMemory = sync.OnceValue(func() int64 {
	mem := physicalMemory()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 {
			continue // "max": no limit
		}
		if mem == 0 || n < mem {
			mem = n
		}
		break
	}
	return mem
})
