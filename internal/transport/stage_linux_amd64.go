package transport

import (
	"net"
	"syscall"
	"unsafe"
)

// siocOutQ is SIOCOUTQ (TIOCOUTQ): for tcp, the bytes written and not yet
// acknowledged by the peer.
const siocOutQ = 0x5411

// tcpOutQueue is outQueue over a tcp socket's raw descriptor.
type tcpOutQueue struct {
	rc syscall.RawConn
	n  int32
	ok bool
	fn func(fd uintptr) // made once: a closure per call would allocate
}

// newOutQueue returns the outQueue of a plain tcp connection, or nil for
// any other (tls+tcp, ipc: their kernel copies differ, see stage.go).
func newOutQueue(c net.Conn) outQueue {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	q := &tcpOutQueue{rc: rc}
	q.fn = q.query
	return q
}

func (q *tcpOutQueue) query(fd uintptr) {
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, siocOutQ, uintptr(unsafe.Pointer(&q.n)))
	q.ok = e == 0
}

func (q *tcpOutQueue) empty() bool {
	q.ok = false
	if err := q.rc.Control(q.fn); err != nil {
		return false
	}
	return q.ok && q.n == 0
}
