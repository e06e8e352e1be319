package transport

import (
	"sync"
	"unsafe"
)

// Sending a large body from a buffer at the wrong address costs twice the
// kernel time. The kernel copies a written body into the socket's pages
// with rep movsb; on x86 (AMD Zen here) that copy runs at about half
// speed when its destination lies 0 to 15 bytes past its source modulo
// 4 KiB (4K aliasing), and a request/reply conversation hits that case
// on every message: on an idle tcp connection the kernel starts the next
// write at the start of a page it reuses, a pooled 64 KiB body starts on
// a page boundary, and the frame's 8-byte length (and a req or rep 4-byte
// id) put the body 8 or 12 bytes past it. A 64 KiB body then took 40-50
// µs to write instead of 6-8 (issue 21: tcp req/rep 64 KiB round trip
// 2.3x the raw floor). So a tcp pipe sends such a body from a staging
// buffer placed stageLead bytes ahead of its destination instead: one
// copy in user space (a few µs) for the slow kernel copy it avoids.
//
// Only when the prediction holds and the copy pays: the connection has
// nothing unsent or unacknowledged (outQueue, one ioctl); the body is the
// first of its write (a message sent alone, or the first of a batch: one
// staging buffer per write); and it is at least stageMin, as a frame
// longer than one 64 KiB segment is (shorter ones measured no slower when
// aliased: 4-62.5 KiB, while 64 KiB took 2x, 128 KiB 2.4x, 256 KiB 3.1x),
// and at most stageMax (a larger one is sent as it is).
const (
	aliasPage   = 4096 // the aliasing period
	aliasWindow = 16   // destination 0..15 bytes past the source is slow
	stageLead   = 64   // a staged body starts this far past its destination
	stageMin    = 63 << 10
	stageMax    = 256 << 10
)

// stageSmall is the body size of the smaller staging buffers: NNG's
// usual large message, and mangos' largest pooled one.
const stageSmall = 64 << 10

// stagePools hold staging buffers, each a body's room plus a page to
// place it at any offset modulo the page: [0] for bodies up to
// stageSmall, [1] for those up to stageMax.
var stagePools = [2]sync.Pool{
	{New: func() any { return newStage(stageSmall) }},
	{New: func() any { return newStage(stageMax) }},
}

func newStage(n int) *[]byte {
	b := make([]byte, n+aliasPage)
	return &b
}

// stagePool is the pool of the staging buffers for an n-byte body.
func stagePool(n int) *sync.Pool {
	if n <= stageSmall {
		return &stagePools[0]
	}
	return &stagePools[1]
}

// aliased reports whether body b, written pos bytes after the start of a
// page, would be copied by the kernel at 0..15 bytes past its source
// modulo the page.
func aliased(pos int, b []byte) bool {
	src := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	return (pos-src)&(aliasPage-1) < aliasWindow
}

// stager moves a body that aliased reports to a staging buffer. The zero
// value never stages; a tcp pipe's has q set (Linux on amd64).
type stager struct {
	q      outQueue // nil: never stage
	buf    *[]byte  // the staging buffer in use, from stagePools
	staged uint64   // bodies sent from a staging copy (tests read it)
}

// outQueue reports whether a connection has no bytes unsent or not yet
// acknowledged by the peer.
type outQueue interface {
	empty() bool
}

// body returns b, or a copy of b placed stageLead bytes ahead of where
// the kernel will copy it to when b is written pos bytes into a write on
// an idle connection and aliased reports it. A copy stays valid until
// release.
func (s *stager) body(pos int, b []byte) []byte {
	if s.q == nil || len(b) < stageMin || len(b) > stageMax || !aliased(pos, b) || !s.q.empty() {
		return b
	}
	s.staged++
	s.buf = stagePool(len(b)).Get().(*[]byte)
	buf := *s.buf
	base := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	off := (pos + stageLead - base) & (aliasPage - 1)
	return buf[off : off+copy(buf[off:], b)]
}

// release returns the staging buffer body handed out, if any.
func (s *stager) release() {
	if s.buf != nil {
		stagePool(len(*s.buf) - aliasPage).Put(s.buf)
		s.buf = nil
	}
}
