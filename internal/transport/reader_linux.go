package transport

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// linuxVec is vecReader over a socket's raw descriptor: readv(2) in the
// runtime's poller, which waits for readability and honours the
// connection's read deadline.
type linuxVec struct {
	c    net.Conn
	rc   syscall.RawConn
	idle time.Duration
	iov  [2]syscall.Iovec
	n    int
	err  error
	fn   func(fd uintptr) bool // made once: a closure per read would allocate
}

// newVecReader returns a vecReader for c, or nil when c offers no raw
// descriptor (tls+tcp, a net.Pipe).
func newVecReader(c net.Conn, idle time.Duration) vecReader {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	v := &linuxVec{c: c, rc: rc, idle: idle}
	v.fn = v.once
	return v
}

// once is one readv attempt; false asks the poller to wait for data.
func (v *linuxVec) once(fd uintptr) bool {
	for {
		n, _, e := syscall.Syscall(syscall.SYS_READV, fd, uintptr(unsafe.Pointer(&v.iov[0])), uintptr(len(v.iov)))
		switch e {
		case 0:
			v.n, v.err = int(n), nil
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		v.n, v.err = 0, os.NewSyscallError("readv", e)
		return true
	}
}

func (v *linuxVec) readv(p, q []byte) (int, error) {
	if v.idle > 0 {
		if err := v.c.SetReadDeadline(time.Now().Add(v.idle)); err != nil {
			return 0, err
		}
	}
	v.iov[0].Base, v.iov[1].Base = &p[0], &q[0]
	v.iov[0].SetLen(len(p))
	v.iov[1].SetLen(len(q))
	err := v.rc.Read(v.fn)
	v.iov = [2]syscall.Iovec{} // keep no reference to the buffers
	switch {
	case err != nil:
		return 0, err
	case v.err != nil:
		return 0, v.err
	case v.n == 0:
		return 0, io.EOF
	}
	return v.n, nil
}
