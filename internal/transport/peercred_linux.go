package transport

import (
	"net"
	"syscall"

	"go.nanomsg.org/mangos/v3"
)

// peerCred reads the peer's process credentials (SO_PEERCRED) of a unix
// domain connection. It costs one getsockopt per call.
func peerCred(c net.Conn, name string) (any, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, mangos.ErrBadOption
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, wrapErr("transport: peer credentials", err)
	}
	var uc *syscall.Ucred
	var uerr error
	if err := rc.Control(func(fd uintptr) {
		uc, uerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, wrapErr("transport: peer credentials", err)
	}
	if uerr != nil {
		return nil, wrapErr("transport: peer credentials", uerr)
	}
	switch name {
	case mangos.OptionPeerPID:
		return int(uc.Pid), nil
	case mangos.OptionPeerUID:
		return int(uc.Uid), nil
	default:
		return int(uc.Gid), nil
	}
}
