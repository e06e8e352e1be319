package aio

// DeviceRoom is the room a Device holds on each sending socket.
func DeviceRoom() int { return deviceRoom }

// SetDeviceRoom makes Devices started afterwards hold n places (0: none,
// the behaviour before devices held room) and returns a func that
// restores the default; for benchmarks, never while devices start.
func SetDeviceRoom(n int) (restore func()) {
	old := deviceRoom
	deviceRoom = n
	return func() { deviceRoom = old }
}
