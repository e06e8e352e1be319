package aio_test

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// copyBytes copies in's bytes to out until either fails, with splice(2)
// through a pipe (zero-copy: the kernel moves the pages, nothing reaches
// user space) when both are socket connections, or else with io.Copy.
// Go's io.Copy splices between tcp connections but copies through a
// buffer from a unix one, hence this.
func copyBytes(out, in net.Conn) {
	ic, ok1 := in.(syscall.Conn)
	oc, ok2 := out.(syscall.Conn)
	if !ok1 || !ok2 {
		_, _ = io.Copy(out, in)
		return
	}
	irc, err1 := ic.SyscallConn()
	orc, err2 := oc.SyscallConn()
	var p [2]int
	if err1 != nil || err2 != nil || syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK) != nil {
		_, _ = io.Copy(out, in)
		return
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[1]), fSetPipeSz, 1<<20)
	const flags = 1 | 2 // SPLICE_F_MOVE | SPLICE_F_NONBLOCK
	for {
		var n int64
		var serr error
		err := irc.Read(func(fd uintptr) bool {
			n, serr = syscall.Splice(int(fd), nil, p[1], nil, 1<<20, flags)
			return !errors.Is(serr, syscall.EAGAIN)
		})
		if err != nil || serr != nil || n == 0 {
			return
		}
		for n > 0 {
			var m int64
			err := orc.Write(func(fd uintptr) bool {
				m, serr = syscall.Splice(p[0], nil, int(fd), nil, int(n), flags)
				return !errors.Is(serr, syscall.EAGAIN)
			})
			if err != nil || serr != nil {
				return
			}
			n -= m
		}
	}
}
