package sockets

import "net"

// ControlPanic runs a control function that panics, as a bug in the
// control plane would.
func ControlPanic(s *Socket) error {
	return s.control("sockets: test panic", func() error { panic("test: control panic") })
}

// StreamTCPConn returns the TCP connection under a stream, for checking
// socket options.
func StreamTCPConn(s *Stream) *net.TCPConn { return s.tcpConn() }
