package testkit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// The conformance suite: every protocol of package sockets, over every
// transport, held to NNG 1.x's behaviour (state errors, non-blocking first
// sends, resend and failover, drop policies, close semantics, ordering).
// RunConformance runs it between nanoact sockets; RunNngcatConformance
// runs the cases C NNG can take part in with nngcat as the peer.

// confLimit bounds every wait of a conformance case: a case that passes
// takes milliseconds, so this only decides how long a failure takes.
const confLimit = 10 * time.Second

// ConfTransport is one transport of the conformance matrix.
type ConfTransport struct {
	// Name is the URL scheme: inproc, ipc, abstract, tcp, ws, tls+tcp, wss.
	Name string
	// TLS is set for the transports that need a TLS config.
	TLS bool
	// url returns a fresh URL to listen on (port 0 where there are ports).
	url func(t testing.TB) string
}

// ConfTransports returns the conformance matrix: every transport nanoact
// speaks (abstract only on Linux).
func ConfTransports() []ConfTransport {
	trs := []ConfTransport{
		{Name: "inproc", url: func(testing.TB) string { return "inproc://conf-" + rand.Text() }},
		{Name: "ipc", url: func(t testing.TB) string { return "ipc://" + IPCPath(t) }},
		{Name: "tcp", url: func(testing.TB) string { return "tcp://127.0.0.1:0" }},
		{Name: "ws", url: func(testing.TB) string { return "ws://127.0.0.1:0/conf" }},
		{Name: "tls+tcp", TLS: true, url: func(testing.TB) string { return "tls+tcp://127.0.0.1:0" }},
		{Name: "wss", TLS: true, url: func(testing.TB) string { return "wss://127.0.0.1:0/conf" }},
	}
	if runtime.GOOS == "linux" {
		trs = append(trs, ConfTransport{Name: "abstract", url: func(testing.TB) string { return "abstract://conf-" + rand.Text() }})
	}
	return trs
}

// Link is one conformance case's view of its transport: it opens sockets
// (closed at cleanup) and connects them over the transport, with TLS
// configs made for the case where the transport needs them.
type Link struct {
	t        *testing.T
	tr       ConfTransport
	srv, cli *sockets.TLSConfig
	// certPEM and keyPEM are the TLS certificate and key (TLS only).
	certPEM, keyPEM []byte
}

// NewLink returns a Link for t over tr. Over TLS it makes a WriteCert
// certificate for 127.0.0.1 (about 0.25 ms), served by listeners and
// trusted by dialers.
func NewLink(t *testing.T, tr ConfTransport) *Link {
	t.Helper()
	k := &Link{t: t, tr: tr}
	if tr.TLS {
		cert, key, err := sockets.WriteCert("127.0.0.1", time.Hour)
		if err != nil {
			t.Fatalf("WriteCert: %v", err)
		}
		k.certPEM, k.keyPEM = cert, key
		if k.srv, err = sockets.NewTLSServer(sockets.TLSCert(cert, key)); err != nil {
			t.Fatalf("NewTLSServer: %v", err)
		}
		if k.cli, err = sockets.NewTLSClient(sockets.TLSCA(cert)); err != nil {
			t.Fatalf("NewTLSClient: %v", err)
		}
	}
	return k
}

// Open opens a socket of protocol p (raw with sockets.WithRaw in opts),
// with a short reconnect time, closed at cleanup.
func (k *Link) Open(p sockets.Protocol, opts ...sockets.Option) *sockets.Socket {
	k.t.Helper()
	all := append([]sockets.Option{sockets.WithReconnect(10*time.Millisecond, 100*time.Millisecond)}, opts...)
	s, err := sockets.New(p, all...)
	if err != nil {
		k.t.Fatalf("New(%s): %v", p, err)
	}
	k.t.Cleanup(func() { _ = s.Close() })
	return s
}

// Listen makes s listen on a fresh URL of the transport and returns the
// URL a peer dials.
func (k *Link) Listen(s *sockets.Socket) string {
	k.t.Helper()
	var opts []sockets.EndpointOption
	if k.srv != nil {
		opts = append(opts, sockets.TLS(k.srv))
	}
	l, err := s.Listen(k.tr.url(k.t), opts...)
	if err != nil {
		k.t.Fatalf("%s listen over %s: %v", s.Protocol(), k.tr.Name, err)
	}
	return l.URL()
}

// Dial dials url from s synchronously (sockets.Sync): when it returns,
// s has the connection.
func (k *Link) Dial(s *sockets.Socket, url string) *sockets.Dialer {
	k.t.Helper()
	d, err := s.Dial(url, k.endpointOpts(sockets.Sync)...)
	if err != nil {
		k.t.Fatalf("%s dial %s: %v", s.Protocol(), url, err)
	}
	return d
}

// DialOption is Dial as an option of sockets.New: New(p, k.DialOption(url))
// returns once the connection is up, nanonext's socket(dial = url) with a
// synchronous dial.
func (k *Link) DialOption(url string) sockets.Option {
	return sockets.Dial(url, k.endpointOpts(sockets.Sync)...)
}

// endpointOpts are a dialer's options: mode, and the client TLS config
// over TLS.
func (k *Link) endpointOpts(mode sockets.StartMode) []sockets.EndpointOption {
	opts := []sockets.EndpointOption{mode}
	if k.cli != nil {
		opts = append(opts, sockets.TLS(k.cli))
	}
	return opts
}

// Connect makes listener listen, dialer dial it synchronously, and waits
// until both see one more connection than before.
func (k *Link) Connect(dialer, listener *sockets.Socket) {
	k.t.Helper()
	nd, nl := dialer.Pipes(), listener.Pipes()
	k.Dial(dialer, k.Listen(listener))
	WaitPipes(k.t, dialer, nd+1)
	WaitPipes(k.t, listener, nl+1)
}

// Pair opens a socket of protocol a and one of b, connects them (a
// dials, b listens) and returns them.
func (k *Link) Pair(a, b sockets.Protocol, opts ...sockets.Option) (*sockets.Socket, *sockets.Socket) {
	k.t.Helper()
	sa, sb := k.Open(a, opts...), k.Open(b, opts...)
	k.Connect(sa, sb)
	return sa, sb
}

// WaitPipes waits until s has n live connections, woken by s's pipe
// events (and, in case an event raced the count, every 20 ms); it fails
// the test after confLimit.
func WaitPipes(t testing.TB, s *sockets.Socket, n int) {
	t.Helper()
	ev := make(chan struct{}, 1)
	stop, err := s.WatchPipes(func(sockets.PipeEvent) {
		select {
		case ev <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("WatchPipes: %v", err)
	}
	defer stop()
	WaitFor(t, fmt.Sprintf("%s socket with %d pipe(s)", s.Protocol(), n), ev, func() bool { return s.Pipes() == n })
}

// WaitFor waits until cond holds, checking it when wake is signalled and
// every 20 ms (for conditions no event reports, such as a statistic); it
// fails the test after confLimit. wake may be nil.
func WaitFor(t testing.TB, what string, wake <-chan struct{}, cond func() bool) {
	t.Helper()
	limit := time.NewTimer(confLimit)
	defer limit.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-wake:
		case <-tick.C:
		case <-limit.C:
			t.Fatalf("%s: not within %v", what, confLimit)
		}
	}
}

// WaitStat waits until s's statistic name is at least n.
func WaitStat(t testing.TB, s *sockets.Socket, name string, n int64) {
	t.Helper()
	WaitFor(t, fmt.Sprintf("%s stat %s >= %d", s.Protocol(), name, n), nil, func() bool {
		v, err := s.Stat(name)
		if err != nil {
			t.Fatalf("%s Stat(%q): %v", s.Protocol(), name, err)
		}
		return v >= n
	})
}

// CtxT returns a context that ends after confLimit or with the test.
func CtxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), confLimit)
	t.Cleanup(cancel)
	return ctx
}

// WantCode fails the test unless err carries want's NNG code; what names
// the operation.
func WantCode(t testing.TB, what string, err error, want *nanoact.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// MustSend sends v on c in raw mode with ctx.
func MustSend(t testing.TB, ctx context.Context, c sockets.Conn, v any) {
	t.Helper()
	if err := c.Send(ctx, v, sockets.Raw); err != nil {
		t.Fatalf("send %q: %v", v, err)
	}
}

// MustRecv receives one message on c with ctx and returns its body (a
// copy).
func MustRecv(t testing.TB, ctx context.Context, c sockets.Conn) []byte {
	t.Helper()
	m, err := c.RecvMsg(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	b := append([]byte(nil), m.Body...)
	m.Free()
	return b
}

// WantBody receives one message on c and fails the test unless its body
// is want, byte for byte.
func WantBody(t testing.TB, ctx context.Context, c sockets.Conn, want []byte) {
	t.Helper()
	if got := MustRecv(t, ctx, c); string(got) != string(want) {
		t.Fatalf("received %q (% x), want %q (% x)", got, got, want, want)
	}
}

// seqMsg is message i of a numbered sequence: fixed width, with bytes a
// text encoding would mangle (NUL, 0xff), so that order and exact bytes
// are both checked.
func seqMsg(i int) []byte { return fmt.Appendf(nil, "m%05d\x00\xff", i) }

// seqOf parses a seqMsg back, or returns -1.
func seqOf(b []byte) int {
	var i int
	s := string(b)
	if len(s) != 8 || !strings.HasSuffix(s, "\x00\xff") {
		return -1
	}
	if _, err := fmt.Sscanf(s[:6], "m%05d", &i); err != nil {
		return -1
	}
	return i
}
