package aio

import (
	"github.com/nanoact/nanoact/cv"
)

// CV is nanonext's condition variable, which aios signal when they resolve
// (Signal) and PipeNotify when connections come and go. It lives in
// package cv, below sockets, so that sockets and supervisors can signal it
// too; the alias keeps aio.CV, the name nanonext users reach for, and
// every method of cv.CV.
type CV = cv.CV

// Broadcaster is the supervisor side of condition variables: see
// cv.Broadcaster. The alias keeps aio.Broadcaster working.
type Broadcaster = cv.Broadcaster

// NewCV returns a new condition variable with counter 0 and no flag
// (nanonext's cv()): cv.New. It never blocks.
func NewCV() *CV { return cv.New() }

// signalAll signals the CVs of an aio as it resolves, and sets resolved
// inside the same critical section (see cv.SignalAll).
func signalAll(c *CV, more []*CV, a *core) {
	mark := func() { a.markResolved() }
	if len(more) == 0 {
		cv.SignalAll(mark, c)
		return
	}
	cv.SignalAll(mark, append([]*CV{c}, more...)...)
}
