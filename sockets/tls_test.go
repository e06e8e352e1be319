package sockets_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// testCert is a WriteCert result, made once per common name: the test
// binary pays for key generation a few times only.
type testCert struct{ cert, key []byte }

func writeCert(t *testing.T, cn string) testCert {
	t.Helper()
	c, k, err := sockets.WriteCert(cn, time.Hour)
	if err != nil {
		t.Fatalf("WriteCert(%q): %v", cn, err)
	}
	return testCert{c, k}
}

func tlsServer(t *testing.T, opts ...sockets.TLSOption) *sockets.TLSConfig {
	t.Helper()
	c, err := sockets.NewTLSServer(opts...)
	if err != nil {
		t.Fatalf("NewTLSServer: %v", err)
	}
	return c
}

func tlsClient(t *testing.T, opts ...sockets.TLSOption) *sockets.TLSConfig {
	t.Helper()
	c, err := sockets.NewTLSClient(opts...)
	if err != nil {
		t.Fatalf("NewTLSClient: %v", err)
	}
	return c
}

// tlsListen makes s listen on url with srv and returns the URL to dial.
func tlsListen(t *testing.T, s *sockets.Socket, url string, srv *sockets.TLSConfig) string {
	t.Helper()
	l, err := s.Listen(url, sockets.TLS(srv))
	if err != nil {
		t.Fatalf("listen %s: %v", url, err)
	}
	if strings.HasSuffix(strings.SplitN(strings.TrimPrefix(l.URL(), "wss://"), "/", 2)[0], ":0") {
		t.Fatalf("listener URL %s lacks the bound port", l.URL())
	}
	return l.URL()
}

// tlsDial dials url from s synchronously with cli and waits until both
// sockets (s and its peer) see the connection.
func tlsDial(t *testing.T, s, peer *sockets.Socket, url string, cli *sockets.TLSConfig) {
	t.Helper()
	if _, err := s.Dial(url, sockets.Sync, sockets.TLS(cli)); err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	eventually(t, func() bool { return s.Pipes() == 1 && peer.Pipes() == 1 })
}

func reqRep(t *testing.T, req, rep *sockets.Socket) {
	t.Helper()
	ctx := ctxT(t)
	for i := range 3 {
		q := fmt.Sprintf("ping %d", i)
		if err := req.Send(ctx, q, sockets.Raw); err != nil {
			t.Fatal(err)
		}
		got, err := sockets.RecvAs[string](ctx, rep, sockets.Raw)
		if err != nil || got != q {
			t.Fatalf("rep got %q, %v", got, err)
		}
		if err := rep.Send(ctx, []byte{byte(i), 0, 0xff}, sockets.Raw); err != nil {
			t.Fatal(err)
		}
		b, err := sockets.RecvAs[[]byte](ctx, req, sockets.Raw)
		if err != nil || !bytes.Equal(b, []byte{byte(i), 0, 0xff}) {
			t.Fatalf("req got %v, %v", b, err)
		}
	}
}

func pushPull(t *testing.T, push, pull *sockets.Socket) {
	t.Helper()
	ctx := ctxT(t)
	for i := range 5 {
		if err := push.Send(ctx, bytes.Repeat([]byte{byte(i)}, 1000*i), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		b, err := sockets.RecvAs[[]byte](ctx, pull, sockets.Raw)
		if err != nil || !bytes.Equal(b, bytes.Repeat([]byte{byte(i)}, 1000*i)) {
			t.Fatalf("pull got %d bytes, %v", len(b), err)
		}
	}
}

// TLS over tls+tcp and wss, with WriteCert certificates for an IP address
// and a host name, the client verifying against the certificate as CA and
// the server name taken from the URL.
func TestTLSTransports(t *testing.T) {
	t.Parallel()
	for _, cn := range []string{"127.0.0.1", "localhost"} {
		c := writeCert(t, cn)
		srv := tlsServer(t, sockets.TLSCert(c.cert, c.key))
		cli := tlsClient(t, sockets.TLSCA(c.cert))
		for _, scheme := range []string{"tls+tcp", "wss"} {
			listenURL := scheme + "://127.0.0.1:0"
			if scheme == "wss" {
				listenURL += "/tls-test"
			}
			// The listener binds 127.0.0.1; dial it by the certificate's
			// name so that the URL host is what gets verified.
			dialURL := func(bound string) string { return strings.Replace(bound, "127.0.0.1", cn, 1) }
			t.Run(cn+"/"+scheme+"/req-rep", func(t *testing.T) {
				t.Parallel()
				rep, req := open(t, sockets.Rep), open(t, sockets.Req)
				tlsDial(t, req, rep, dialURL(tlsListen(t, rep, listenURL, srv)), cli)
				reqRep(t, req, rep)
			})
			t.Run(cn+"/"+scheme+"/push-pull", func(t *testing.T) {
				t.Parallel()
				push, pull := open(t, sockets.Push), open(t, sockets.Pull)
				// The other way round: the pusher listens.
				tlsDial(t, pull, push, dialURL(tlsListen(t, push, listenURL, srv)), cli)
				pushPull(t, push, pull)
			})
		}
	}
}

// The socket-level TLS option serves the Dial and Listen options of New
// and later endpoints, in each direction with the config of its kind,
// and leaves endpoints of other transports alone.
func TestTLSSocketOption(t *testing.T) {
	t.Parallel()
	c := writeCert(t, "127.0.0.1")
	srv := tlsServer(t, sockets.TLSCert(c.cert, c.key))
	cli := tlsClient(t, sockets.TLSCA(c.cert))

	rep := open(t, sockets.Rep, sockets.WithTLS(srv), sockets.WithTLS(cli), sockets.Listen("tls+tcp://127.0.0.1:0"))
	url := rep.Listeners()[0].URL()
	req := open(t, sockets.Req, sockets.WithTLS(cli), sockets.Dial(url, sockets.Sync))
	eventually(t, func() bool { return rep.Pipes() == 1 && req.Pipes() == 1 })
	reqRep(t, req, rep)

	// Later endpoints, and a plain tcp one beside them.
	if _, err := rep.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatalf("tcp listen on a socket with TLS: %v", err)
	}
	l, err := rep.Listen("wss://127.0.0.1:0/later")
	if err != nil {
		t.Fatal(err)
	}
	req2 := open(t, sockets.Req, sockets.WithTLS(cli))
	if _, err := req2.Dial(l.URL(), sockets.Sync); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return rep.Pipes() == 2 })
	reqRep(t, req2, rep)

	// A socket with only a client config cannot listen over TLS.
	_, err = req2.Listen("tls+tcp://127.0.0.1:0")
	wantCode(t, err, nanoact.ErrInvalid)
}

// Mutual TLS: the server requires a client certificate from its CA.
func TestTLSMutual(t *testing.T) {
	t.Parallel()
	sc, cc, other := writeCert(t, "127.0.0.1"), writeCert(t, "client"), writeCert(t, "127.0.0.1")
	for _, scheme := range []string{"tls+tcp://127.0.0.1:0", "wss://127.0.0.1:0/mtls"} {
		t.Run(strings.SplitN(scheme, ":", 2)[0], func(t *testing.T) {
			t.Parallel()
			srv := tlsServer(t, sockets.TLSCert(sc.cert, sc.key), sockets.TLSCA(cc.cert), sockets.TLSAuth(sockets.TLSAuthRequired))
			rep := open(t, sockets.Rep)
			url := tlsListen(t, rep, scheme, srv)

			bad := []struct {
				name string
				cli  *sockets.TLSConfig
			}{
				{"no client cert", tlsClient(t, sockets.TLSCA(sc.cert))},
				{"client cert from another CA", tlsClient(t, sockets.TLSCA(sc.cert), sockets.TLSCert(other.cert, other.key))},
			}
			for _, b := range bad {
				req := open(t, sockets.Req)
				_, err := req.Dial(url, sockets.Sync, sockets.TLS(b.cli))
				// The server refuses us with a TLS alert: a
				// cryptographic error, as NNG reports it.
				wantCode(t, err, nanoact.ErrCrypto)
				if req.Pipes() != 0 || rep.Pipes() != 0 {
					t.Fatalf("%s: connected", b.name)
				}
			}

			req := open(t, sockets.Req)
			tlsDial(t, req, rep, url, tlsClient(t, sockets.TLSCA(sc.cert), sockets.TLSCert(cc.cert, cc.key)))
			reqRep(t, req, rep)
		})
	}
}

// A client that cannot verify the server fails with ErrPeerAuth and never
// connects; the listener goes on serving good clients.
func TestTLSVerifyFailure(t *testing.T) {
	t.Parallel()
	good, wrong, named := writeCert(t, "127.0.0.1"), writeCert(t, "127.0.0.1"), writeCert(t, "localhost")
	for _, scheme := range []string{"tls+tcp://127.0.0.1:0", "wss://127.0.0.1:0/verify"} {
		t.Run(strings.SplitN(scheme, ":", 2)[0], func(t *testing.T) {
			t.Parallel()
			rep := open(t, sockets.Rep)
			url := tlsListen(t, rep, scheme, tlsServer(t, sockets.TLSCert(good.cert, good.key)))
			bad := []struct {
				name string
				cli  *sockets.TLSConfig
			}{
				{"wrong CA", tlsClient(t, sockets.TLSCA(wrong.cert))},
				{"wrong server name", tlsClient(t, sockets.TLSCA(good.cert), sockets.TLSServerName("localhost"))},
				{"CA for another name", tlsClient(t, sockets.TLSCA(named.cert))},
				{"system roots", tlsClient(t)},
			}
			for _, b := range bad {
				req := open(t, sockets.Req)
				_, err := req.Dial(url, sockets.Sync, sockets.TLS(b.cli))
				wantCode(t, err, nanoact.ErrPeerAuth)
				if req.Pipes() != 0 || rep.Pipes() != 0 || len(req.Dialers()) != 0 {
					t.Fatalf("%s: connected or left a dialer", b.name)
				}
			}
			req := open(t, sockets.Req)
			tlsDial(t, req, rep, url, tlsClient(t, sockets.TLSCA(good.cert)))
			reqRep(t, req, rep)
		})
	}
}

// Auth mode none skips verification; optional verifies, logs the failure
// at Warn and connects all the same; TLSServerName overrides the URL host.
func TestTLSClientAuthModes(t *testing.T) {
	t.Parallel()
	c, wrong, named := writeCert(t, "127.0.0.1"), writeCert(t, "127.0.0.1"), writeCert(t, "localhost")
	srv := tlsServer(t, sockets.TLSCert(c.cert, c.key))
	nsrv := tlsServer(t, sockets.TLSCert(named.cert, named.key))

	t.Run("none", func(t *testing.T) {
		rep, req := open(t, sockets.Rep), open(t, sockets.Req)
		tlsDial(t, req, rep, tlsListen(t, rep, "tls+tcp://127.0.0.1:0", srv), tlsClient(t, sockets.TLSAuth(sockets.TLSAuthNone)))
		reqRep(t, req, rep)
	})
	t.Run("optional", func(t *testing.T) {
		log, logs := observed()
		rep, req := open(t, sockets.Rep), open(t, sockets.Req, sockets.WithLogger(log))
		cli := tlsClient(t, sockets.TLSCA(wrong.cert), sockets.TLSAuth(sockets.TLSAuthOptional))
		tlsDial(t, req, rep, tlsListen(t, rep, "tls+tcp://127.0.0.1:0", srv), cli)
		reqRep(t, req, rep)
		const msg = "tls: server certificate not verified (auth mode optional)"
		if logs.FilterMessage(msg).Len() != 1 {
			t.Fatalf("want one %q log, got %v", msg, logs.All())
		}
	})
	t.Run("optional verified", func(t *testing.T) {
		log, logs := observed()
		rep, req := open(t, sockets.Rep), open(t, sockets.Req, sockets.WithLogger(log))
		cli := tlsClient(t, sockets.TLSCA(c.cert), sockets.TLSAuth(sockets.TLSAuthOptional))
		tlsDial(t, req, rep, tlsListen(t, rep, "tls+tcp://127.0.0.1:0", srv), cli)
		if n := logs.FilterMessage("tls: server certificate not verified (auth mode optional)").Len(); n != 0 {
			t.Fatalf("verification failure logged for a good certificate")
		}
	})
	t.Run("server name", func(t *testing.T) {
		rep, req := open(t, sockets.Rep), open(t, sockets.Req)
		// One config dials by IP with an explicit name; the URL host is
		// not written back into it (nanonext's quirk), so a second dial
		// still uses "localhost".
		cli := tlsClient(t, sockets.TLSCA(named.cert), sockets.TLSServerName("localhost"))
		url := tlsListen(t, rep, "tls+tcp://127.0.0.1:0", nsrv)
		tlsDial(t, req, rep, url, cli)
		req2 := open(t, sockets.Req)
		if _, err := req2.Dial(url, sockets.Sync, sockets.TLS(cli)); err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { return rep.Pipes() == 2 })
	})
	t.Run("URL host per dialer", func(t *testing.T) {
		// One config without a server name dials two hosts: each
		// dialer checks the host of its own URL.
		rep := open(t, sockets.Rep)
		ipURL := tlsListen(t, rep, "tls+tcp://127.0.0.1:0", srv)
		rep2 := open(t, sockets.Rep)
		nameURL := strings.Replace(tlsListen(t, rep2, "tls+tcp://127.0.0.1:0", nsrv), "127.0.0.1", "localhost", 1)
		cli := tlsClient(t, sockets.TLSCA(append(bytes.Clone(c.cert), named.cert...)))
		req := open(t, sockets.Req)
		for _, u := range []string{nameURL, ipURL, nameURL} {
			if _, err := req.Dial(u, sockets.Sync, sockets.TLS(cli)); err != nil {
				t.Fatalf("dial %s: %v", u, err)
			}
		}
		eventually(t, func() bool { return rep.Pipes() == 1 && rep2.Pipes() == 2 })
	})
}

// Endpoint misuse: TLS on a URL without TLS, a TLS URL without config, a
// config of the wrong kind.
func TestTLSEndpointErrors(t *testing.T) {
	t.Parallel()
	c := writeCert(t, "127.0.0.1")
	srv := tlsServer(t, sockets.TLSCert(c.cert, c.key))
	cli := tlsClient(t, sockets.TLSCA(c.cert))
	s := open(t, sockets.Pair)
	cases := []struct {
		name string
		err  func() error
		want *nanoact.Error
	}{
		{"listen tcp with TLS", func() error { _, err := s.Listen("tcp://127.0.0.1:0", sockets.TLS(srv)); return err }, nanoact.ErrNotSupported},
		{"dial tcp with TLS", func() error { _, err := s.Dial("tcp://127.0.0.1:1", sockets.Later, sockets.TLS(cli)); return err }, nanoact.ErrNotSupported},
		{"listen ws with TLS", func() error { _, err := s.Listen("ws://127.0.0.1:0/x", sockets.TLS(srv)); return err }, nanoact.ErrNotSupported},
		{"dial inproc with TLS", func() error { _, err := s.Dial("inproc://tls-x", sockets.Later, sockets.TLS(cli)); return err }, nanoact.ErrNotSupported},
		{"listen tls+tcp without TLS", func() error { _, err := s.Listen("tls+tcp://127.0.0.1:0"); return err }, nanoact.ErrInvalid},
		{"dial tls+tcp without TLS", func() error { _, err := s.Dial("tls+tcp://127.0.0.1:1", sockets.Later); return err }, nanoact.ErrInvalid},
		{"listen wss without TLS", func() error { _, err := s.Listen("wss://127.0.0.1:0/x"); return err }, nanoact.ErrInvalid},
		{"dial wss without TLS", func() error { _, err := s.Dial("wss://127.0.0.1:1/x", sockets.Later); return err }, nanoact.ErrInvalid},
		{"listen with a client config", func() error { _, err := s.Listen("tls+tcp://127.0.0.1:0", sockets.TLS(cli)); return err }, nanoact.ErrInvalid},
		{"dial with a server config", func() error { _, err := s.Dial("wss://127.0.0.1:1/x", sockets.Later, sockets.TLS(srv)); return err }, nanoact.ErrInvalid},
		{"New with TLS listen and no config", func() error { _, err := sockets.New(sockets.Pair, sockets.Listen("tls+tcp://127.0.0.1:0")); return err }, nanoact.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			wantCode(t, err, tc.want)
			var ne *nanoact.Error
			if !errors.As(err, &ne) || ne.Op == "" || ne.Err == nil {
				t.Fatalf("error %v lacks op or cause", err)
			}
		})
	}
	if len(s.Listeners()) != 0 || len(s.Dialers()) != 0 {
		t.Fatal("a failed endpoint was kept")
	}
	// nil configs are ignored.
	if _, err := s.Listen("tcp://127.0.0.1:0", sockets.TLS(nil)); err != nil {
		t.Fatal(err)
	}
}

// A Later dialer keeps its TLS config for Start, and a failed Sync Start
// can be retried with the same config.
func TestTLSDialerStart(t *testing.T) {
	t.Parallel()
	c := writeCert(t, "127.0.0.1")
	rep, req := open(t, sockets.Rep), open(t, sockets.Req)
	url := tlsListen(t, rep, "tls+tcp://127.0.0.1:0", tlsServer(t, sockets.TLSCert(c.cert, c.key)))
	d, err := req.Dial(url, sockets.Later, sockets.TLS(tlsClient(t, sockets.TLSCA(c.cert))))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(sockets.Sync); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return rep.Pipes() == 1 && req.Pipes() == 1 })
	reqRep(t, req, rep)
}

// Config construction: PEM and files, parse failures as ErrCrypto, and
// misuse as ErrInvalid.
func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	c, other := writeCert(t, "127.0.0.1"), writeCert(t, "127.0.0.1")
	dir := t.TempDir()
	write := func(name string, parts ...[]byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Join(parts, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certFile, keyFile, both := write("cert.pem", c.cert), write("key.pem", c.key), write("both.pem", c.cert, c.key)
	garbage := []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")

	// Legacy-encrypted keys (openssl -traditional) and encrypted PKCS#8.
	blk, _ := pem.Decode(c.key)
	ek, err := x509.EncryptPEMBlock(rand.Reader, "PRIVATE KEY", blk.Bytes, []byte("s3cret"), x509.PEMCipherAES256) //nolint:staticcheck // SA1019: legacy format on purpose
	if err != nil {
		t.Fatal(err)
	}
	legacyKey := pem.EncodeToMemory(ek)
	pkcs8Enc := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}})

	ok := []struct {
		name   string
		server bool
		opts   []sockets.TLSOption
	}{
		{"server PEM", true, []sockets.TLSOption{sockets.TLSCert(c.cert, c.key)}},
		{"server files", true, []sockets.TLSOption{sockets.TLSCertFiles(certFile, keyFile)}},
		{"server combined file", true, []sockets.TLSOption{sockets.TLSCertFiles(both, "")}},
		{"server combined PEM", true, []sockets.TLSOption{sockets.TLSCert(append(bytes.Clone(c.cert), c.key...), nil)}},
		{"server legacy-encrypted key", true, []sockets.TLSOption{sockets.TLSCert(c.cert, legacyKey), sockets.TLSKeyPassword("s3cret")}},
		{"client CA file", false, []sockets.TLSOption{sockets.TLSCAFile(certFile)}},
		{"client CA bundle", false, []sockets.TLSOption{sockets.TLSCA(append(bytes.Clone(c.cert), other.cert...))}},
		{"client with cert", false, []sockets.TLSOption{sockets.TLSCA(c.cert), sockets.TLSCert(other.cert, other.key)}},
		{"password ignored for a plain key", true, []sockets.TLSOption{sockets.TLSCert(c.cert, c.key), sockets.TLSKeyPassword("x")}},
		{"nil option", false, []sockets.TLSOption{nil}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.server {
				_, err = sockets.NewTLSServer(tc.opts...)
			} else {
				_, err = sockets.NewTLSClient(tc.opts...)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}

	bad := []struct {
		name   string
		server bool
		opts   []sockets.TLSOption
		want   *nanoact.Error
	}{
		{"garbage CA", false, []sockets.TLSOption{sockets.TLSCA(garbage)}, nanoact.ErrCrypto},
		{"CA with no PEM", false, []sockets.TLSOption{sockets.TLSCA([]byte("hello"))}, nanoact.ErrCrypto},
		{"key as CA", false, []sockets.TLSOption{sockets.TLSCA(c.key)}, nanoact.ErrCrypto},
		{"garbage cert", true, []sockets.TLSOption{sockets.TLSCert(garbage, c.key)}, nanoact.ErrCrypto},
		{"no key", true, []sockets.TLSOption{sockets.TLSCert(c.cert, nil)}, nanoact.ErrCrypto},
		{"mismatched key", true, []sockets.TLSOption{sockets.TLSCert(c.cert, other.key)}, nanoact.ErrCrypto},
		{"garbage client cert", false, []sockets.TLSOption{sockets.TLSCert(garbage, c.key)}, nanoact.ErrCrypto},
		{"encrypted key without password", true, []sockets.TLSOption{sockets.TLSCert(c.cert, legacyKey)}, nanoact.ErrCrypto},
		{"encrypted key with wrong password", true, []sockets.TLSOption{sockets.TLSCert(c.cert, legacyKey), sockets.TLSKeyPassword("nope")}, nanoact.ErrCrypto},
		{"encrypted PKCS#8 key", true, []sockets.TLSOption{sockets.TLSCert(c.cert, pkcs8Enc), sockets.TLSKeyPassword("s3cret")}, nanoact.ErrCrypto},
		{"missing CA file", false, []sockets.TLSOption{sockets.TLSCAFile(filepath.Join(dir, "nope.pem"))}, nanoact.ErrNotFound},
		{"missing key file", true, []sockets.TLSOption{sockets.TLSCertFiles(certFile, filepath.Join(dir, "nope.pem"))}, nanoact.ErrNotFound},
		{"server without cert", true, []sockets.TLSOption{sockets.TLSCA(c.cert)}, nanoact.ErrInvalid},
		{"server with a server name", true, []sockets.TLSOption{sockets.TLSCert(c.cert, c.key), sockets.TLSServerName("x")}, nanoact.ErrInvalid},
		{"unknown auth mode", false, []sockets.TLSOption{sockets.TLSAuth(7)}, nanoact.ErrInvalid},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var cfg *sockets.TLSConfig
			var err error
			if tc.server {
				cfg, err = sockets.NewTLSServer(tc.opts...)
			} else {
				cfg, err = sockets.NewTLSClient(tc.opts...)
			}
			wantCode(t, err, tc.want)
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
		})
	}
}

func TestTLSConfigString(t *testing.T) {
	t.Parallel()
	c := writeCert(t, "127.0.0.1")
	cases := []struct {
		cfg  *sockets.TLSConfig
		want string
		mode sockets.TLSAuthMode
	}{
		{tlsClient(t, sockets.TLSCA(c.cert)), "< TLS client config | auth mode: required >", sockets.TLSAuthRequired},
		{tlsClient(t, sockets.TLSAuth(sockets.TLSAuthNone)), "< TLS client config | auth mode: none >", sockets.TLSAuthNone},
		{tlsClient(t, sockets.TLSAuth(sockets.TLSAuthOptional)), "< TLS client config | auth mode: optional >", sockets.TLSAuthOptional},
		{tlsServer(t, sockets.TLSCert(c.cert, c.key)), "< TLS server config | auth mode: none >", sockets.TLSAuthNone},
		{tlsServer(t, sockets.TLSCert(c.cert, c.key), sockets.TLSCA(c.cert)), "< TLS server config | auth mode: optional >", sockets.TLSAuthOptional},
		{tlsServer(t, sockets.TLSCert(c.cert, c.key), sockets.TLSAuth(sockets.TLSAuthRequired)), "< TLS server config | auth mode: required >", sockets.TLSAuthRequired},
	}
	for _, tc := range cases {
		if got := tc.cfg.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		if tc.cfg.AuthMode() != tc.mode || tc.cfg.Server() != strings.Contains(tc.want, "server") {
			t.Errorf("%s: AuthMode %v, Server %v", tc.want, tc.cfg.AuthMode(), tc.cfg.Server())
		}
	}
	if s := sockets.TLSAuthMode(9).String(); s != "TLSAuthMode(9)" {
		t.Errorf("unknown mode prints %q", s)
	}
}

func TestWriteCert(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cn  string
		ips []string
	}{
		{"127.0.0.1", []string{"127.0.0.1"}},
		{"::1", []string{"::1"}},
		{"localhost", nil},
		{"example.internal", nil},
	} {
		t.Run(tc.cn, func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			certPEM, keyPEM, err := sockets.WriteCert(tc.cn, 48*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			blk, rest := pem.Decode(certPEM)
			if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
				t.Fatalf("cert PEM: %q", certPEM)
			}
			crt, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if crt.Subject.CommonName != tc.cn || fmt.Sprint(crt.Subject.Organization) != "[Nanonext]" || fmt.Sprint(crt.Subject.Country) != "[JP]" {
				t.Errorf("subject %v", crt.Subject)
			}
			if !crt.IsCA || !crt.BasicConstraintsValid || crt.MaxPathLen != 0 || !crt.MaxPathLenZero {
				t.Errorf("CA %v, path len %d", crt.IsCA, crt.MaxPathLen)
			}
			if len(crt.DNSNames) != 1 || crt.DNSNames[0] != tc.cn {
				t.Errorf("DNS SANs %v", crt.DNSNames)
			}
			var ips []string
			for _, ip := range crt.IPAddresses {
				ips = append(ips, ip.String())
			}
			if fmt.Sprint(ips) != fmt.Sprint(tc.ips) {
				t.Errorf("IP SANs %v, want %v", ips, tc.ips)
			}
			if crt.NotAfter.Before(before.Add(47*time.Hour)) || crt.NotAfter.After(time.Now().Add(48*time.Hour)) || crt.NotBefore.After(before) {
				t.Errorf("validity %v to %v", crt.NotBefore, crt.NotAfter)
			}
			if len(crt.SubjectKeyId) == 0 || !bytes.Equal(crt.SubjectKeyId, crt.AuthorityKeyId) {
				t.Errorf("key ids %x %x", crt.SubjectKeyId, crt.AuthorityKeyId)
			}
			if err := crt.CheckSignatureFrom(crt); err != nil {
				t.Errorf("not self-signed: %v", err)
			}
			// It verifies itself for its name, as a server and a client.
			roots := x509.NewCertPool()
			roots.AddCert(crt)
			for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
				if _, err := crt.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.cn, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
					t.Errorf("verify for %v: %v", usage, err)
				}
			}
			kb, _ := pem.Decode(keyPEM)
			if kb == nil || kb.Type != "PRIVATE KEY" {
				t.Fatalf("key PEM: %q", keyPEM)
			}
			key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			ek, ok := key.(*ecdsa.PrivateKey)
			if !ok || ek.Curve != elliptic.P256() || !ek.PublicKey.Equal(crt.PublicKey) {
				t.Fatalf("key %T does not match the certificate", key)
			}
		})
	}
	for _, bad := range []struct {
		cn string
		d  time.Duration
	}{{"", time.Hour}, {"x", 0}, {"x", -time.Second}} {
		_, _, err := sockets.WriteCert(bad.cn, bad.d)
		wantCode(t, err, nanoact.ErrInvalid)
	}
	// Two certificates for one name differ (fresh keys, random serials).
	a, _, _ := sockets.WriteCert("x", time.Hour)
	b, _, _ := sockets.WriteCert("x", time.Hour)
	if bytes.Equal(a, b) {
		t.Fatal("two WriteCert calls gave the same certificate")
	}
}

func BenchmarkWriteCert(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := sockets.WriteCert("127.0.0.1", time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// A request/reply round trip over TLS: the server presents a WriteCert
// certificate, which the client trusts as its CA and checks against the
// host of the URL it dials.
func ExampleTLS() {
	certPEM, keyPEM, err := sockets.WriteCert("127.0.0.1", 24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	server, err := sockets.NewTLSServer(sockets.TLSCert(certPEM, keyPEM))
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := sockets.NewTLSClient(sockets.TLSCA(certPEM))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(server)
	fmt.Println(client)

	rep, _ := sockets.New(sockets.Rep)
	defer rep.Close()
	l, err := rep.Listen("tls+tcp://127.0.0.1:0", sockets.TLS(server))
	if err != nil {
		fmt.Println(err)
		return
	}
	req, _ := sockets.New(sockets.Req)
	defer req.Close()
	if _, err := req.Dial(l.URL(), sockets.Sync, sockets.TLS(client)); err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = req.Send(ctx, "hello over TLS", sockets.Raw)
	q, _ := sockets.RecvAs[string](ctx, rep, sockets.Raw)
	_ = rep.Send(ctx, strings.ToUpper(q), sockets.Raw)
	answer, _ := sockets.RecvAs[string](ctx, req, sockets.Raw)
	fmt.Println(answer)

	// A client that trusts another CA is refused.
	other, _, _ := sockets.WriteCert("127.0.0.1", time.Hour)
	stranger, _ := sockets.NewTLSClient(sockets.TLSCA(other))
	_, err = req.Dial(l.URL(), sockets.Sync, sockets.TLS(stranger))
	fmt.Println(errors.Is(err, nanoact.ErrPeerAuth))
	// Output:
	// < TLS server config | auth mode: none >
	// < TLS client config | auth mode: required >
	// HELLO OVER TLS
	// true
}

// WriteCert makes a self-signed certificate whose common name is also its
// subject alternative name.
func ExampleWriteCert() {
	certPEM, _, err := sockets.WriteCert("127.0.0.1", 365*24*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	blk, _ := pem.Decode(certPEM)
	crt, _ := x509.ParseCertificate(blk.Bytes)
	fmt.Println(crt.Subject)
	fmt.Println(crt.DNSNames, crt.IPAddresses, crt.IsCA)
	// Output:
	// CN=127.0.0.1,O=Nanonext,C=JP
	// [127.0.0.1] [127.0.0.1] true
}
