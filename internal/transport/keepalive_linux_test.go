package transport_test

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/transport"
)

// TestKeepAlivePeriod checks that keep-alive turns SO_KEEPALIVE on with
// the mangos.OptionKeepAliveTime period as the idle time and the interval
// of the probes.
func TestKeepAlivePeriod(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	t.Cleanup(func() { _ = c.Close() })
	must(t, transport.Configure(c, 7*time.Second))
	rc, err := c.(*net.TCPConn).SyscallConn()
	must(t, err)
	var on, idle, intvl int
	var gerr error
	must(t, rc.Control(func(fd uintptr) {
		if on, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); gerr != nil {
			return
		}
		if idle, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE); gerr != nil {
			return
		}
		intvl, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
	}))
	must(t, gerr)
	if on == 0 || idle != 7 || intvl != 7 {
		t.Fatalf("SO_KEEPALIVE %d, TCP_KEEPIDLE %d, TCP_KEEPINTVL %d; want on, 7, 7", on, idle, intvl)
	}
}
