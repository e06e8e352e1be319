//go:build !linux || !amd64

package transport

import "net"

// newOutQueue returns nil: bodies are staged on Linux on amd64 only, where
// the kernel copies with rep movsb and the slow case was measured
// (stage.go).
func newOutQueue(net.Conn) outQueue { return nil }
