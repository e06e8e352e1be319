//go:build !linux

package transport

import "net"

// newOutQueue returns nil: bodies are staged on Linux only (stage.go).
func newOutQueue(net.Conn) outQueue { return nil }
