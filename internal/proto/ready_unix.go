//go:build unix

package proto

import (
	"syscall"

	"github.com/nanoact/nanoact"
)

// newPipe makes the recv-fd's pipe, both ends non-blocking and
// close-on-exec. ForkLock keeps a concurrent fork from inheriting the
// descriptors between pipe(2) and the CloseOnExec calls, on systems
// without pipe2(2).
func newPipe() (rfd, wfd int, err error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err = syscall.Pipe(p[:])
	if err == nil {
		syscall.CloseOnExec(p[0])
		syscall.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err == nil {
		if err = syscall.SetNonblock(p[0], true); err == nil {
			err = syscall.SetNonblock(p[1], true)
		}
		if err != nil {
			_ = syscall.Close(p[0])
			_ = syscall.Close(p[1])
		}
	}
	if err != nil {
		return -1, -1, &nanoact.Error{Code: nanoact.CodeNoFiles, Op: "sockets: recv-fd", Err: err}
	}
	return p[0], p[1], nil
}

func fdWrite(fd int, b []byte) { _, _ = syscall.Write(fd, b) }
func fdRead(fd int, b []byte)  { _, _ = syscall.Read(fd, b) }
func fdClose(fd int)           { _ = syscall.Close(fd) }
