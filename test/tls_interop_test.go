package test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// pemFiles is a sockets.WriteCert certificate and key, in memory and in
// files for nngcat's --cacert, --cert and --key.
type pemFiles struct {
	certPEM, keyPEM []byte
	cert, key       string
}

func writePEMFiles(t *testing.T, cn string) pemFiles {
	t.Helper()
	c, k, err := sockets.WriteCert(cn, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := pemFiles{certPEM: c, keyPEM: k, cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(p.cert, c, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.key, k, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func tlsConfig(t *testing.T, server bool, opts ...sockets.TLSOption) *sockets.TLSConfig {
	t.Helper()
	newCfg := sockets.NewTLSClient
	if server {
		newCfg = sockets.NewTLSServer
	}
	cfg, err := newCfg(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// tlsScheme is one TLS transport of the interop matrix.
type tlsScheme struct{ name, path string }

var tlsSchemes = []tlsScheme{{"tls+tcp", ""}, {"wss", "/nanoact"}}

// goListenTLS makes s listen over sc on 127.0.0.1 with srv and returns
// the URL for nngcat to dial, with host as its host name.
func goListenTLS(t *testing.T, s *sockets.Socket, sc tlsScheme, host string, srv *sockets.TLSConfig) string {
	t.Helper()
	l, err := s.Listen(sc.name+"://127.0.0.1:0"+sc.path, sockets.TLS(srv))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return strings.Replace(l.URL(), "127.0.0.1", host, 1)
}

// binFile writes b to a file for nngcat's --file, which sends it as it is
// (--data cannot carry a NUL byte).
func binFile(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantNngcatFails waits for nngcat to exit and fails the test unless it
// exited with an error mentioning one of words. NNG 1.5.2 with Mbed TLS
// 2.16 reports a certificate it cannot verify as "Cryptographic error"
// (Mbed TLS's x509 error is missing from NNG's table, which means
// "Peer could not be authenticated" for it).
func wantNngcatFails(t *testing.T, cat *nngcat, words ...string) {
	t.Helper()
	if err := cat.waitExit(t); err == nil {
		t.Fatalf("nngcat %s succeeded; stdout %q", cat, cat.Out.Bytes())
	}
	stderr := string(cat.ErrOut.Bytes())
	for _, w := range words {
		if strings.Contains(stderr, w) {
			return
		}
	}
	t.Fatalf("nngcat %s stderr %q mentions none of %q", cat, stderr, words)
}

// nngcat (C NNG, Mbed TLS) dials our TLS listener, verifying our
// WriteCert certificate by IP address or host name: exact bytes, NULs
// included, both ways.
func TestTLSNngcatDials(t *testing.T) {
	for _, sc := range tlsSchemes {
		for _, cn := range []string{"127.0.0.1", "localhost"} {
			t.Run(sc.name+"/"+cn, func(t *testing.T) {
				testkit.Nngcat(t)
				t.Parallel()
				pf := writePEMFiles(t, cn)
				rep := open(t, sockets.Rep)
				url := goListenTLS(t, rep, sc, cn, tlsConfig(t, true, sockets.TLSCert(pf.certPEM, pf.keyPEM)))
				question := []byte("q\x00\x01\xfe\xffend")
				cat := startNngcat(t, nil, args("--req", "--dial", url, "--cacert", pf.cert,
					"--file", binFile(t, question), "--raw", "--recv-timeout", 10)...)
				ctx := ctxT(t)
				wantBytes(t, "request", recvBytes(t, ctx, rep), question)
				answer := append([]byte{0, 0xff, 0}, bytes.Repeat([]byte("tls"), 2000)...)
				send(t, ctx, rep, answer)
				wantBytes(t, "reply nngcat printed", cat.wait(t), answer)
			})
		}
	}
}

// Our TLS dialer verifies nngcat's listener, which serves our WriteCert
// certificate and key (an ECDSA P-256 key in PKCS#8 PEM).
func TestTLSNngcatListens(t *testing.T) {
	for _, sc := range tlsSchemes {
		for _, cn := range []string{"127.0.0.1", "localhost"} {
			t.Run(sc.name+"/"+cn, func(t *testing.T) {
				testkit.Nngcat(t)
				t.Parallel()
				pf := writePEMFiles(t, cn)
				port := testkit.FreePort(t)
				// nngcat listens by the certificate's name too: NNG's
				// ws listener serves only requests whose Host header
				// names its URL's host.
				cat := startNngcat(t, nil, args("--rep", "--listen", sc.name+"://"+cn+":"+port+sc.path,
					"--cert", pf.cert, "--key", pf.key, "--raw", "--data", "pong", "--count", 1)...)
				req := open(t, sockets.Req)
				url := sc.name + "://" + cn + ":" + port + sc.path
				if _, err := req.Dial(url, sockets.TLS(tlsConfig(t, false, sockets.TLSCA(pf.certPEM)))); err != nil {
					t.Fatal(err)
				}
				ctx := ctxT(t)
				question := []byte("ping\x00\xff")
				send(t, ctx, req, question)
				wantBytes(t, "reply", recvBytes(t, ctx, req), []byte("pong"))
				wantBytes(t, "request nngcat printed", cat.wait(t), question)
			})
		}
	}
}

// Mutual TLS with nngcat as the client: our listener requires a client
// certificate from its CA. nngcat without one, or with one from another
// CA, is refused; nngcat with the right one gets through.
func TestTLSNngcatMutual(t *testing.T) {
	for _, sc := range tlsSchemes {
		t.Run(sc.name, func(t *testing.T) {
			testkit.Nngcat(t)
			t.Parallel()
			srvPF, cliPF, otherPF := writePEMFiles(t, "127.0.0.1"), writePEMFiles(t, "nngcat"), writePEMFiles(t, "nngcat")
			rep := open(t, sockets.Rep)
			srv := tlsConfig(t, true, sockets.TLSCertFiles(srvPF.cert, srvPF.key), sockets.TLSCAFile(cliPF.cert), sockets.TLSAuth(sockets.TLSAuthRequired))
			url := goListenTLS(t, rep, sc, "127.0.0.1", srv)

			for _, extra := range [][]string{nil, {"--cert", otherPF.cert, "--key", otherPF.key}} {
				cat := startNngcat(t, nil, args("--req", "--dial", url, "--cacert", srvPF.cert, extra, "--data", "x", "--recv-timeout", 2)...)
				// Under TLS 1.3 the client's side of the handshake ends
				// before the server has checked the client's certificate,
				// so nngcat may see the server's refusal as the connection
				// shutting down rather than as a TLS alert.
				wantNngcatFails(t, cat, "Cryptographic", "authenticated", "Connection shutdown")
				if rep.Pipes() != 0 {
					t.Fatalf("nngcat %s connected", cat)
				}
			}

			cat := startNngcat(t, nil, args("--req", "--dial", url, "--cacert", srvPF.cert, "--cert", cliPF.cert, "--key", cliPF.key,
				"--data", "hello", "--raw", "--recv-timeout", 10)...)
			ctx := ctxT(t)
			wantBytes(t, "request", recvBytes(t, ctx, rep), []byte("hello"))
			send(t, ctx, rep, []byte("hi\x00"))
			wantBytes(t, "reply nngcat printed", cat.wait(t), []byte("hi\x00"))
		})
	}
}

// Verification failures both ways: nngcat with the wrong CA or for the
// wrong name fails to dial us and we go on serving; our dialer fails with
// ErrPeerAuth against nngcat serving a certificate we do not trust.
func TestTLSNngcatVerifyFailure(t *testing.T) {
	t.Run("nngcat-dials", func(t *testing.T) {
		testkit.Nngcat(t)
		t.Parallel()
		named, wrong := writePEMFiles(t, "localhost"), writePEMFiles(t, "localhost")
		rep := open(t, sockets.Rep)
		url := goListenTLS(t, rep, tlsSchemes[0], "127.0.0.1", tlsConfig(t, true, sockets.TLSCert(named.certPEM, named.keyPEM)))
		// A certificate for localhost, dialed as 127.0.0.1; then one from
		// an unknown CA.
		cat := startNngcat(t, nil, args("--req", "--dial", url, "--cacert", named.cert, "--data", "x")...)
		wantNngcatFails(t, cat, "authenticated", "Cryptographic")
		cat = startNngcat(t, nil, args("--req", "--dial", url, "--cacert", wrong.cert, "--data", "x")...)
		wantNngcatFails(t, cat, "authenticated", "Cryptographic")
		if rep.Pipes() != 0 {
			t.Fatal("a refused nngcat connected")
		}
		// The same listener serves a good client.
		cat = startNngcat(t, nil, args("--req", "--dial", strings.Replace(url, "127.0.0.1", "localhost", 1),
			"--cacert", named.cert, "--data", "ok", "--raw", "--recv-timeout", 10)...)
		ctx := ctxT(t)
		wantBytes(t, "request", recvBytes(t, ctx, rep), []byte("ok"))
		send(t, ctx, rep, []byte("fine"))
		wantBytes(t, "reply", cat.wait(t), []byte("fine"))
	})
	t.Run("go-dials", func(t *testing.T) {
		testkit.Nngcat(t)
		t.Parallel()
		pf, wrong := writePEMFiles(t, "127.0.0.1"), writePEMFiles(t, "127.0.0.1")
		port := testkit.FreePort(t)
		startNngcat(t, nil, args("--rep", "--listen", "tls+tcp://127.0.0.1:"+port, "--cert", pf.cert, "--key", pf.key, "--data", "x")...)
		url := "tls+tcp://127.0.0.1:" + port
		for _, cli := range []*sockets.TLSConfig{
			tlsConfig(t, false, sockets.TLSCA(wrong.certPEM)),
			tlsConfig(t, false, sockets.TLSCA(pf.certPEM), sockets.TLSServerName("localhost")),
		} {
			req := open(t, sockets.Req)
			var err error
			// Sync dials until nngcat listens.
			eventually(t, "nngcat listening", func() bool {
				_, err = req.Dial(url, sockets.Sync, sockets.TLS(cli))
				return nanoact.CodeOf(err) != nanoact.CodeConnRefused
			})
			wantCode(t, err, nanoact.ErrPeerAuth)
			if req.Pipes() != 0 {
				t.Fatal("connected")
			}
		}
		req := open(t, sockets.Req)
		if _, err := req.Dial(url, sockets.Sync, sockets.TLS(tlsConfig(t, false, sockets.TLSCA(pf.certPEM)))); err != nil {
			t.Fatalf("good dial: %v", err)
		}
	})
}
