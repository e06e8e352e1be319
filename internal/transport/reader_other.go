//go:build !linux

package transport

import (
	"net"
	"time"
)

// newVecReader returns nil: vectored reads are used on Linux only.
func newVecReader(net.Conn, time.Duration) vecReader { return nil }
