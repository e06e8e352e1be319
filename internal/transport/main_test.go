package transport_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol"
	"go.nanomsg.org/mangos/v3/protocol/pair"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	transport.Register()
	goleak.VerifyTestMain(m)
}

// tcase is one entry of the transport matrix.
type tcase struct {
	name string
	url  string // listen URL in user form
}

// syscallECONNRESET is what a read sees when the peer closed with unread
// data in its buffer (a rejected hello), instead of EOF.
var syscallECONNRESET = syscall.ECONNRESET

var abstractSeq atomic.Int64

// uniqueAbstract returns an abstract name no other test process uses.
func uniqueAbstract() string {
	return fmt.Sprintf("abstract://nanoact-test-%d-%d", os.Getpid(), abstractSeq.Add(1))
}

// hasIPv6 reports whether [::1] can be bound.
var hasIPv6 = sync.OnceValue(func() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
})

// matrix lists the transports to test: tcp over IPv4 and (if present)
// IPv6 loopback, ipc and unix in a temporary directory, abstract.
func matrix(t testing.TB) []tcase {
	t.Helper()
	dir := t.TempDir()
	cs := []tcase{
		{"tcp", "tcp://127.0.0.1:0"},
		{"ipc", "ipc://" + filepath.Join(dir, "a.sock")},
		{"unix", "unix://" + filepath.Join(dir, "b.sock")},
		{"abstract", uniqueAbstract()},
	}
	if hasIPv6() {
		cs = append(cs, tcase{"tcp6", "tcp://[::1]:0"})
	} else {
		t.Log("no IPv6 loopback: skipping tcp://[::1]")
	}
	return cs
}

// newSock returns a pair0 socket on mangos' core, closed at cleanup.
func newSock(t testing.TB) mangos.Socket {
	t.Helper()
	s := protocol.MakeSocket(pair.NewProtocol())
	must(t, s.SetOption(mangos.OptionRecvDeadline, 10*time.Second))
	must(t, s.SetOption(mangos.OptionSendDeadline, 10*time.Second))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// listen rewrites url, listens on s, and returns the listener and the
// mangos URL to dial it (with the bound port or name).
func listen(t testing.TB, s mangos.Socket, url string, opts map[string]any) (mangos.Listener, string) {
	t.Helper()
	mu, err := transport.Rewrite(url)
	must(t, err)
	l, err := s.NewListener(mu, opts)
	must(t, err)
	must(t, l.Listen())
	du, err := transport.Rewrite(l.Address())
	must(t, err)
	return l, du
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t testing.TB, err error, want *nanoact.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v (code %v), want code %v", err, nanoact.CodeOf(err), want.Code)
	}
}

// recorder is an Events hook that records into buffered channels and
// never blocks the transport.
type recorder struct {
	oversize  chan oversizeEvent
	hsFail    chan hsFailEvent
	budget    chan oversizeEvent // limit: the budget
	connLimit chan hsFailEvent
	idle      chan hsFailEvent
}

type oversizeEvent struct {
	url, remote string
	size        uint64
	limit       int
}

type hsFailEvent struct {
	url, remote string
	err         error
}

func newRecorder() *recorder {
	return &recorder{
		oversize:  make(chan oversizeEvent, 64),
		hsFail:    make(chan hsFailEvent, 64),
		budget:    make(chan oversizeEvent, 64),
		connLimit: make(chan hsFailEvent, 64),
		idle:      make(chan hsFailEvent, 64),
	}
}

func (r *recorder) OnRecvBudget(url, remote string, size uint64, budget int64) {
	select {
	case r.budget <- oversizeEvent{url, remote, size, int(budget)}:
	default:
	}
}

func (r *recorder) OnConnLimit(url, remote string, limit int) {
	select {
	case r.connLimit <- hsFailEvent{url, remote, fmt.Errorf("limit %d", limit)}:
	default:
	}
}

func (r *recorder) OnIdle(url, remote string, idle time.Duration) {
	select {
	case r.idle <- hsFailEvent{url, remote, fmt.Errorf("idle %v", idle)}:
	default:
	}
}

// wait returns the next value on ch, failing t after 10 s.
func wait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	tm := time.NewTimer(10 * time.Second)
	defer tm.Stop()
	select {
	case v := <-ch:
		return v
	case <-tm.C:
		t.Fatalf("no %s", what)
	}
	var zero T
	return zero
}

func (r *recorder) OnOversize(url, remote string, size uint64, limit int) {
	select {
	case r.oversize <- oversizeEvent{url, remote, size, limit}:
	default:
	}
}

func (r *recorder) OnHandshakeFail(url, remote string, err error) {
	select {
	case r.hsFail <- hsFailEvent{url, remote, err}:
	default:
	}
}

func (r *recorder) waitHSFail(t testing.TB) hsFailEvent {
	t.Helper()
	tm := time.NewTimer(10 * time.Second)
	defer tm.Stop()
	select {
	case e := <-r.hsFail:
		return e
	case <-tm.C:
		t.Fatal("no OnHandshakeFail event")
	}
	return hsFailEvent{}
}

// pattern returns n bytes that differ from one message size to the next.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + n)
	}
	return b
}

// rawDial connects to l's bound address without speaking SP.
func rawDial(t testing.TB, l mangos.Listener) net.Conn {
	t.Helper()
	v, err := l.GetOption(mangos.OptionLocalAddr)
	must(t, err)
	a := v.(net.Addr)
	c, err := net.Dial(a.Network(), a.String())
	must(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readUntilClosed reads from c until EOF or error and returns what came.
func readUntilClosed(t testing.TB, c net.Conn, limit time.Duration) ([]byte, error) {
	t.Helper()
	must(t, c.SetReadDeadline(time.Now().Add(limit)))
	var got []byte
	buf := make([]byte, 64)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}
