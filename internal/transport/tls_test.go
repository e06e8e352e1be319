package transport_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

// testCA is a self-signed ECDSA certificate for 127.0.0.1, ::1 and
// localhost that is its own CA.
type testCA struct {
	cert tls.Certificate
	pool *x509.CertPool
}

func makeCA() (testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return testCA{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "nanoact transport test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return testCA{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return testCA{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return testCA{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool: pool}, nil
}

// The test binary makes two certificates: the one servers use, and one
// nobody trusts.
var (
	theCAOnce   = sync.OnceValues(makeCA)
	otherCAOnce = sync.OnceValues(makeCA)
)

func theCA() testCA {
	ca, err := theCAOnce()
	if err != nil {
		panic(err) // key generation does not fail on a working system
	}
	return ca
}

func otherCA() testCA {
	ca, err := otherCAOnce()
	if err != nil {
		panic(err)
	}
	return ca
}

func serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{theCA().cert}, MinVersion: tls.VersionTLS12}
}

func clientTLS() *tls.Config {
	return &tls.Config{RootCAs: theCA().pool, MinVersion: tls.VersionTLS12}
}

// secure is one entry of the matrix of transports with a handshake above
// TCP.
type secure struct {
	name    string
	url     string // listen URL in user form
	tls     bool
	rawPath string // ws: the path raw clients ask for
}

func secureMatrix() []secure {
	return []secure{
		{"tls+tcp", "tls+tcp://127.0.0.1:0", true, ""},
		{"ws", "ws://127.0.0.1:0/a/path", false, "/a/path"},
		{"wss", "wss://127.0.0.1:0/", true, "/"},
	}
}

// srvOpts and cliOpts add the TLS config for a TLS transport to opts.
func (s secure) srvOpts(opts map[string]any) map[string]any {
	if opts == nil {
		opts = map[string]any{}
	}
	if s.tls {
		opts[mangos.OptionTLSConfig] = serverTLS()
	}
	return opts
}

func (s secure) cliOpts(opts map[string]any) map[string]any {
	if opts == nil {
		opts = map[string]any{}
	}
	if s.tls {
		opts[mangos.OptionTLSConfig] = clientTLS()
	}
	return opts
}

// TestSecureRoundTrip exchanges messages of many sizes both ways over
// tls+tcp, ws and wss, on pair0 (no SP header) and req/rep (an SP header
// on every message).
func TestSecureRoundTrip(t *testing.T) {
	for _, tc := range secureMatrix() {
		t.Run(tc.name+"/pair", func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			must(t, srv.SetOption(mangos.OptionMaxRecvSize, 0))
			must(t, cli.SetOption(mangos.OptionMaxRecvSize, 0))
			_, du := listen(t, srv, tc.url, tc.srvOpts(nil))
			must(t, cli.DialOptions(du, tc.cliOpts(nil)))
			roundTrips(t, srv, cli, 0, 1, 100, 8<<10, 8<<10+1, 16<<10, 16<<10+1, 65536, 1<<20+1)
		})
		t.Run(tc.name+"/req-rep", func(t *testing.T) {
			rep, req := newRepSock(t), newReqSock(t)
			_, du := listen(t, rep, tc.url, tc.srvOpts(nil))
			must(t, req.DialOptions(du, tc.cliOpts(nil)))
			for _, n := range []int{0, 5, 20 << 10, 300 << 10} {
				q := pattern(n)
				must(t, req.Send(q))
				got, err := rep.Recv()
				must(t, err)
				if !bytes.Equal(got, q) {
					t.Fatalf("%d bytes: request differs", n)
				}
				must(t, rep.Send(append(got, 'r')))
				a, err := req.Recv()
				must(t, err)
				if !bytes.Equal(a, append(q, 'r')) {
					t.Fatalf("%d bytes: reply differs", n)
				}
			}
		})
	}
}

// TestSecurePipeOptions reads the pipe and endpoint options over tls+tcp,
// ws and wss.
func TestSecurePipeOptions(t *testing.T) {
	for _, tc := range secureMatrix() {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			pipes := make(chan mangos.Pipe, 4)
			cli.SetPipeEventHook(func(ev mangos.PipeEvent, p mangos.Pipe) {
				if ev == mangos.PipeEventAttached {
					pipes <- p
				}
			})
			l, du := listen(t, srv, tc.url, tc.srvOpts(nil))
			must(t, cli.DialOptions(du, tc.cliOpts(map[string]any{
				mangos.OptionMaxRecvSize: 777,
				mangos.OptionNoDelay:     false,
				mangos.OptionKeepAlive:   true,
			})))
			p := <-pipes
			for name, want := range map[string]any{
				mangos.OptionMaxRecvSize: 777,
				mangos.OptionNoDelay:     false,
				mangos.OptionKeepAlive:   true,
			} {
				v, err := p.GetOption(name)
				must(t, err)
				if v != want {
					t.Errorf("pipe %s = %v, want %v", name, v, want)
				}
			}
			for _, name := range []string{mangos.OptionLocalAddr, mangos.OptionRemoteAddr} {
				v, err := p.GetOption(name)
				must(t, err)
				if _, ok := v.(net.Addr); !ok {
					t.Errorf("%s is %T, want net.Addr", name, v)
				}
			}
			v, err := p.GetOption(mangos.OptionTLSConnState)
			if tc.tls {
				must(t, err)
				if cs := v.(tls.ConnectionState); !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 {
					t.Errorf("tls state %+v", cs)
				}
			} else if err == nil {
				t.Errorf("ws pipe has a TLS state")
			}
			v, err = l.GetOption(transport.OptionHandshakeTimeout)
			if err != nil || v != transport.DefaultHandshakeTimeout {
				t.Errorf("handshake timeout %v, %v", v, err)
			}
			if _, err := l.GetOption("no-such-option"); err != mangos.ErrBadOption {
				t.Errorf("unknown option: %v", err)
			}
			if err := l.SetOption(mangos.OptionTLSConfig, (*tls.Config)(nil)); err == nil {
				t.Error("a nil TLS config was accepted")
			}
		})
	}
}

// TestSecureBoundAddress checks that listeners on port 0 report the port
// they got, in Address, OptionTCPBoundPort and OptionLocalAddr.
func TestSecureBoundAddress(t *testing.T) {
	cases := []struct {
		sc     secure
		listen string
		re     string
	}{
		{secureMatrix()[0], "tls+tcp://127.0.0.1:0", `^tls\+tcp://127\.0\.0\.1:(\d+)$`},
		{secureMatrix()[0], "tls+tcp4://localhost:0", `^tls\+tcp4://localhost:(\d+)$`},
		{secureMatrix()[1], "ws://127.0.0.1:0/x/y", `^ws://127\.0\.0\.1:(\d+)/x/y$`},
		{secureMatrix()[1], "ws://127.0.0.1:0", `^ws://127\.0\.0\.1:(\d+)$`},
		{secureMatrix()[1], "ws4://*:0/star", `^ws4://:(\d+)/star$`},
		{secureMatrix()[2], "wss://127.0.0.1:0/s", `^wss://127\.0\.0\.1:(\d+)/s$`},
	}
	if hasIPv6() {
		cases = append(cases, struct {
			sc     secure
			listen string
			re     string
		}{secureMatrix()[1], "ws6://[::1]:0/six", `^ws6://\[::1\]:(\d+)/six$`})
	}
	for _, c := range cases {
		t.Run(c.listen, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			l, du := listen(t, srv, c.listen, c.sc.srvOpts(nil))
			checkBoundPort(t, l, c.re)
			var err error
			if strings.Contains(l.Address(), "://:") { // a wildcard host
				du, err = transport.Rewrite(strings.Replace(l.Address(), "://:", "://127.0.0.1:", 1))
				must(t, err)
			}
			must(t, cli.DialOptions(du, c.sc.cliOpts(nil)))
			must(t, cli.Send([]byte("x")))
			_, err = srv.Recv()
			must(t, err)
		})
	}
}

// TestSilentPeer connects without saying anything (no TLS hello, no HTTP
// request): the listener drops the connection after the handshake
// time-out, reports it, and leaves no goroutine or descriptor behind.
func TestSilentPeer(t *testing.T) {
	for _, tc := range secureMatrix() {
		t.Run(tc.name, func(t *testing.T) {
			before, f0 := baseline(t)
			func() {
				rec := newRecorder()
				srv := newSock(t)
				const timeout = 200 * time.Millisecond
				l, _ := listen(t, srv, tc.url, tc.srvOpts(map[string]any{
					transport.OptionHandshakeTimeout: timeout,
					transport.OptionEvents:           rec,
				}))
				c := rawDial(t, l)
				start := time.Now()
				got, err := readUntilClosed(t, c, 10*time.Second)
				elapsed := time.Since(start)
				if err != io.EOF && !errors.Is(err, syscallECONNRESET) {
					t.Fatalf("read: %v, want EOF", err)
				}
				if len(got) != 0 {
					t.Errorf("listener sent %q to a silent peer", got)
				}
				if elapsed < timeout-20*time.Millisecond {
					t.Errorf("closed after %v, before the %v time-out", elapsed, timeout)
				}
				e := rec.waitHSFail(t)
				wantCode(t, e.err, nanoact.ErrTimedOut)
				if e.url != l.Address() {
					t.Errorf("event url %q, want %q", e.url, l.Address())
				}
				t.Logf("silent peer closed after %v: %v", elapsed.Round(time.Millisecond), e.err)
				must(t, c.Close())
				must(t, srv.Close())
			}()
			settle(t, before, f0)
		})
	}
}

// TestTLSHandshakeFailQuiet fails TLS handshakes on tls+tcp and wss
// listeners in three ways (a client that does not trust the server, a
// peer that speaks plain text, a client without the certificate the
// server requires): each is reported through Events, nothing reaches the
// standard logger, and the listener goes on serving.
func TestTLSHandshakeFailQuiet(t *testing.T) {
	var logged bytes.Buffer
	defer log.SetOutput(log.Writer())
	log.SetOutput(&logged)

	for _, tc := range secureMatrix() {
		if !tc.tls {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			srv, cli := newSock(t), newSock(t)
			l, du := listen(t, srv, tc.url, tc.srvOpts(map[string]any{transport.OptionEvents: rec}))
			v, err := l.GetOption(mangos.OptionLocalAddr)
			must(t, err)
			addr := v.(net.Addr).String()

			// A client that trusts another CA aborts the handshake.
			_, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: otherCA().pool, ServerName: "127.0.0.1"})
			if err == nil {
				t.Fatal("an untrusted server was accepted")
			}
			wantCode(t, rec.waitHSFail(t).err, nanoact.ErrCrypto)

			// Plain text where a TLS hello should be.
			c := rawDial(t, l)
			_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			must(t, err)
			_, _ = readUntilClosed(t, c, 10*time.Second)
			wantCode(t, rec.waitHSFail(t).err, nanoact.ErrCrypto)

			// Our dialer, not trusting the server, fails with CodePeerAuth
			// and reports it too.
			drec := newRecorder()
			err = newSock(t).DialOptions(du, map[string]any{
				mangos.OptionTLSConfig: &tls.Config{RootCAs: otherCA().pool},
				transport.OptionEvents: drec,
			})
			wantCode(t, err, nanoact.ErrPeerAuth)
			wantCode(t, drec.waitHSFail(t).err, nanoact.ErrPeerAuth)
			e := rec.waitHSFail(t)
			wantCode(t, e.err, nanoact.ErrCrypto)
			t.Logf("listener saw: %v", e.err)

			// The listener still serves a good client.
			must(t, cli.DialOptions(du, tc.cliOpts(nil)))
			must(t, cli.Send([]byte("fine")))
			got, err := srv.Recv()
			must(t, err)
			if string(got) != "fine" {
				t.Fatalf("got %q", got)
			}
		})
	}

	t.Run("client-cert-required", func(t *testing.T) {
		for _, tc := range secureMatrix() {
			if !tc.tls {
				continue
			}
			rec := newRecorder()
			srv := newSock(t)
			cfg := serverTLS()
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
			cfg.ClientCAs = theCA().pool
			_, du := listen(t, srv, tc.url, map[string]any{mangos.OptionTLSConfig: cfg, transport.OptionEvents: rec})
			err := newSock(t).DialOptions(du, tc.cliOpts(nil))
			// The server refuses us with an alert: a cryptographic error,
			// as NNG reports it (over TLS 1.3 only once we read).
			wantCode(t, err, nanoact.ErrCrypto)
			wantCode(t, rec.waitHSFail(t).err, nanoact.ErrCrypto)

			// A certificate from a CA the server does not trust.
			oc := clientTLS()
			oc.Certificates = []tls.Certificate{otherCA().cert}
			err = newSock(t).DialOptions(du, map[string]any{mangos.OptionTLSConfig: oc})
			wantCode(t, err, nanoact.ErrCrypto)
			wantCode(t, rec.waitHSFail(t).err, nanoact.ErrPeerAuth)

			cc := clientTLS()
			cc.Certificates = []tls.Certificate{theCA().cert}
			cli := newSock(t)
			must(t, cli.DialOptions(du, map[string]any{mangos.OptionTLSConfig: cc}))
			must(t, cli.Send([]byte("mutual")))
			got, err := srv.Recv()
			must(t, err)
			if string(got) != "mutual" {
				t.Fatalf("%s: got %q", tc.name, got)
			}
		}
	})

	if logged.Len() != 0 {
		t.Errorf("the standard logger got: %q", logged.String())
	}
}

// TestTLSConfigRequired checks that tls+tcp and wss endpoints without a
// TLS config, or a listener whose config has no certificate, fail with
// CodeInvalid and say why.
func TestTLSConfigRequired(t *testing.T) {
	for _, tc := range secureMatrix() {
		if !tc.tls {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			s := newSock(t)
			u, err := transport.Rewrite(tc.url)
			must(t, err)
			err = s.Listen(u)
			wantCode(t, err, nanoact.ErrInvalid)
			t.Log(err)
			err = s.ListenOptions(u, map[string]any{mangos.OptionTLSConfig: clientTLS()})
			wantCode(t, err, nanoact.ErrInvalid)
			t.Log(err)

			_, du := listen(t, newSock(t), tc.url, tc.srvOpts(nil))
			err = newSock(t).Dial(du)
			wantCode(t, err, nanoact.ErrInvalid)
			t.Log(err)
			if err := newSock(t).DialOptions(du, map[string]any{mangos.OptionTLSConfig: 42}); err != mangos.ErrBadValue {
				t.Errorf("TLS config of the wrong type: %v", err)
			}
		})
	}
	// Plain tcp and ws take no TLS config.
	for _, url := range []string{"tcp://127.0.0.1:0", "ws://127.0.0.1:0/x"} {
		u, err := transport.Rewrite(url)
		must(t, err)
		if _, err := newSock(t).NewListener(u, map[string]any{mangos.OptionTLSConfig: serverTLS()}); err != mangos.ErrBadOption {
			t.Errorf("%s with a TLS config: %v, want mangos.ErrBadOption", url, err)
		}
	}
}

// TestSecureDialerStall dials a server that accepts and says nothing: the
// dial fails after the handshake time-out, and ending the dialer's
// OptionContext aborts a dial in progress and every later one.
func TestSecureDialerStall(t *testing.T) {
	for _, tc := range secureMatrix() {
		t.Run(tc.name+"/timeout", func(t *testing.T) {
			u := stallServer(t, tc, nil)
			rec := newRecorder()
			start := time.Now()
			err := newSock(t).DialOptions(u, tc.cliOpts(map[string]any{
				transport.OptionEvents:           rec,
				transport.OptionHandshakeTimeout: 200 * time.Millisecond,
			}))
			if d := time.Since(start); d < 180*time.Millisecond || d > 5*time.Second {
				t.Errorf("dial failed after %v, want about 200ms", d)
			}
			wantCode(t, err, nanoact.ErrTimedOut)
			wantCode(t, rec.waitHSFail(t).err, nanoact.ErrTimedOut)
		})
		t.Run(tc.name+"/context", func(t *testing.T) {
			accepted := make(chan struct{})
			u := stallServer(t, tc, accepted)
			ctx, cancel := context.WithCancel(context.Background())
			cli := newSock(t)
			errc := make(chan error, 1)
			go func() { errc <- cli.DialOptions(u, tc.cliOpts(map[string]any{transport.OptionContext: ctx})) }()
			<-accepted // the dialer has started its handshake
			cancel()
			tm := time.NewTimer(5 * time.Second)
			defer tm.Stop()
			select {
			case err := <-errc:
				if err != mangos.ErrClosed {
					t.Fatalf("dial: %v, want mangos.ErrClosed", err)
				}
			case <-tm.C:
				t.Fatal("dial did not return after its context ended")
			}
			if err := cli.DialOptions(u, tc.cliOpts(map[string]any{transport.OptionContext: ctx})); err != mangos.ErrClosed {
				t.Fatalf("dial with ended context: %v, want mangos.ErrClosed", err)
			}
		})
	}
}

// stallServer accepts connections on a fresh loopback port and reads
// whatever comes without answering. It returns the mangos URL of tc's
// scheme for it, closes accepted (if not nil) once the first connection's
// first bytes (the client's handshake) arrive, and waits for its
// goroutines at cleanup.
func stallServer(t *testing.T, tc secure, accepted chan struct{}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			first := accepted // the first connection's first bytes close it
			accepted = nil
			wg.Go(func() {
				if first != nil {
					_, err := c.Read(make([]byte, 1))
					close(first) // also if the connection ended unread
					if err != nil {
						return
					}
				}
				_, _ = io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	scheme, _, _ := strings.Cut(tc.url, "://")
	u, err := transport.Rewrite(scheme + "://" + ln.Addr().String() + tc.rawPath)
	must(t, err)
	return u
}
