package sockets

// ControlPanic runs a control function that panics, as a bug in the
// control plane would.
func ControlPanic(s *Socket) error {
	return s.control("sockets: test panic", func() error { panic("test: control panic") })
}
