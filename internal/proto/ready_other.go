//go:build !unix

package proto

import "github.com/nanoact/nanoact"

// newPipe: the recv-fd is a pipe(2) descriptor for poll(2)-style loops,
// which this system does not have; Ready's channel still works.
func newPipe() (rfd, wfd int, err error) {
	return -1, -1, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: "sockets: recv-fd"}
}

func fdWrite(int, []byte) {}
func fdRead(int, []byte)  {}
func fdClose(int)         {}
