package transport

import (
	"sync"
	"time"
)

// Default figures of the LogRate the sockets layer gives each endpoint:
// at most LogBurst lines about rejected peers per LogInterval.
const (
	LogBurst    = 10
	LogInterval = 10 * time.Second
)

// LogRate bounds the log lines an Events hook writes about peers it
// rejects, so that a flood of bad connections (10,000 rejected handshakes
// wrote 5,000 lines before it) cannot flood the log: the first burst
// lines of each interval go through, the rest are only counted, and the
// first line allowed after an interval with suppressed lines carries
// their count, to be logged as one summary line. Counters (statistics)
// are kept by the caller for every event, logged or not.
//
// A LogRate is made by NewLogRate; it is safe for concurrent use and
// costs a mutex per call, no goroutine and no timer.
type LogRate struct {
	burst int
	every time.Duration

	mu         sync.Mutex
	start      time.Time // of the current interval
	n          int       // lines allowed in it
	suppressed int64     // lines refused in it
}

// NewLogRate returns a LogRate that lets burst lines through per
// interval every. burst < 1 is taken as 1 and every <= 0 as LogInterval.
func NewLogRate(burst int, every time.Duration) *LogRate {
	if every <= 0 {
		every = LogInterval
	}
	return &LogRate{burst: max(burst, 1), every: every}
}

// Allow reports whether one more line may be written at now, and, when it
// may, how many lines were suppressed since the last line allowed (to be
// written first, as one summary line; 0 if none). It does not block
// beyond a mutex.
func (r *LogRate) Allow(now time.Time) (ok bool, suppressed int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.start.IsZero() || now.Sub(r.start) >= r.every {
		r.start, r.n = now, 0
	}
	if r.n >= r.burst {
		r.suppressed++
		return false, 0
	}
	r.n++
	suppressed, r.suppressed = r.suppressed, 0
	return true, suppressed
}
