//go:build !linux

package transport

import (
	"net"

	"go.nanomsg.org/mangos/v3"
)

// peerCred is only implemented on Linux.
func peerCred(net.Conn, string) (any, error) { return nil, mangos.ErrBadOption }
