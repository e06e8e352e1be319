package transport_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/internal/transport"
)

// TestVerifyServerName checks the name rule NNG's Mbed TLS applies:
// alternative names when there are any, the Common Name otherwise.
func TestVerifyServerName(t *testing.T) {
	t.Parallel()
	cnHost := testkit.Issue(t, nil, "localhost", false)
	cnIP := testkit.Issue(t, nil, "127.0.0.1", false)
	cnIP6 := testkit.Issue(t, nil, "::1", false)
	cnWild := testkit.Issue(t, nil, "*.example.com", false)
	sanDNS := testkit.Issue(t, nil, "localhost", false, "san.example")
	sanIP := testkit.Issue(t, nil, "localhost", false, "127.0.0.1")
	for _, tc := range []struct {
		name string
		crt  *testkit.Issued
		host string
		ok   bool
	}{
		{"cn", cnHost, "localhost", true},
		{"cn case", cnHost, "LocalHost", true},
		{"cn trailing dot", cnHost, "localhost.", true},
		{"cn wrong", cnHost, "otherhost", false},
		{"cn prefix", cnHost, "localhost.evil", false},
		{"cn ip", cnIP, "127.0.0.1", true},
		{"cn ip wrong", cnIP, "127.0.0.2", false},
		{"cn ip vs name", cnIP, "localhost", false},
		{"cn ipv6", cnIP6, "::1", true},
		{"cn ipv6 brackets", cnIP6, "[::1]", true},
		{"cn ipv6 long form", cnIP6, "0:0:0:0:0:0:0:1", true},
		{"cn wildcard", cnWild, "a.example.com", true},
		{"cn wildcard bare", cnWild, "example.com", false},
		{"cn wildcard two labels", cnWild, "a.b.example.com", false},
		{"san present: cn ignored", sanDNS, "localhost", false},
		{"san dns", sanDNS, "san.example", true},
		{"san ip", sanIP, "127.0.0.1", true},
		{"san ip: cn ignored", sanIP, "localhost", false},
		{"empty name", cnHost, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := transport.VerifyServerName(tc.crt.Leaf, tc.host)
			if (err == nil) != tc.ok {
				t.Fatalf("VerifyServerName(CN %q, %q) = %v, want ok %v", tc.crt.Leaf.Subject.CommonName, tc.host, err, tc.ok)
			}
			var he x509.HostnameError
			if err != nil && tc.host != "" && !errors.As(err, &he) {
				t.Fatalf("mismatch %v is not an x509.HostnameError", err)
			}
		})
	}
}

// handshake runs a TLS handshake between cli and a server presenting
// srv over loopback TCP (buffered, unlike net.Pipe, so that an alert and
// the server's flight can cross), and returns the client's error.
func handshake(t *testing.T, cli *tls.Config, srv tls.Certificate) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		b, err := ln.Accept()
		if err != nil {
			return
		}
		_ = b.SetDeadline(time.Now().Add(5 * time.Second))
		s := tls.Server(b, &tls.Config{Certificates: []tls.Certificate{srv}, MinVersion: tls.VersionTLS12})
		_ = s.Handshake()
		_ = s.Close()
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(a, cli)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	err = c.Handshake()
	_ = c.Close()
	<-done
	return err
}

// TestVerifyLikeNNG runs real handshakes: a certificate with a Common Name
// only (nanonext's write_cert) verifies with the right name and the right
// CA, and only then; the chain is verified as crypto/tls would.
func TestVerifyLikeNNG(t *testing.T) {
	t.Parallel()
	selfCN := testkit.Issue(t, nil, "127.0.0.1", false) // write_cert's shape
	ca := testkit.Issue(t, nil, "nanoact test CA", true)
	inter := testkit.Issue(t, ca, "nanoact test intermediate", true)
	leafCN := testkit.Issue(t, inter, "server.test", false)
	leafSAN := testkit.Issue(t, ca, "server.test", false, "other.test")
	stranger := testkit.Issue(t, nil, "127.0.0.1", false) // same name, another key

	cfg := func(roots *x509.CertPool, name string) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12}
	}
	for _, tc := range []struct {
		name string
		cli  *tls.Config
		srv  tls.Certificate
		ok   bool
	}{
		{"cn only, self-signed", cfg(selfCN.Pool(), "127.0.0.1"), selfCN.Cert, true},
		{"cn only, wrong name", cfg(selfCN.Pool(), "127.0.0.2"), selfCN.Cert, false},
		{"cn only, wrong ca", cfg(selfCN.Pool(), "127.0.0.1"), stranger.Cert, false},
		{"cn only, via an intermediate", cfg(ca.Pool(), "server.test"), leafCN.Cert, true},
		{"cn only, intermediate not trusted as root", cfg(inter.Pool(), "other.test"), leafCN.Cert, false},
		{"san: cn ignored", cfg(ca.Pool(), "server.test"), leafSAN.Cert, false},
		{"san", cfg(ca.Pool(), "other.test"), leafSAN.Cert, true},
		{"no name", cfg(selfCN.Pool(), ""), selfCN.Cert, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := handshake(t, transport.VerifyLikeNNG(tc.cli), tc.srv)
			if (err == nil) != tc.ok {
				t.Fatalf("handshake: %v, want ok %v", err, tc.ok)
			}
			var ve *tls.CertificateVerificationError
			if err != nil && !errors.As(err, &ve) {
				t.Fatalf("refusal %v is not a *tls.CertificateVerificationError", err)
			}
		})
	}

	// Go's own verifier refuses what NNG accepts: the reason for all this.
	if err := handshake(t, cfg(selfCN.Pool(), "127.0.0.1"), selfCN.Cert); err == nil {
		t.Fatal("crypto/tls accepted a CN-only certificate; VerifyLikeNNG may no longer be needed")
	}

	// A config that does not verify is left alone; the input is not changed.
	insecure := &tls.Config{InsecureSkipVerify: true}
	if transport.VerifyLikeNNG(insecure) != insecure {
		t.Fatal("an InsecureSkipVerify config was replaced")
	}
	in := cfg(selfCN.Pool(), "127.0.0.1")
	_ = transport.VerifyLikeNNG(in)
	if in.InsecureSkipVerify || in.VerifyConnection != nil {
		t.Fatal("VerifyLikeNNG changed its argument")
	}

	// The user's own hooks still run, and see the verified chains.
	var sawConn, sawPeer int
	user := cfg(ca.Pool(), "server.test")
	user.VerifyConnection = func(cs tls.ConnectionState) error {
		sawConn = len(cs.VerifiedChains)
		return nil
	}
	user.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
		sawPeer = len(chains)
		return nil
	}
	if err := handshake(t, transport.VerifyLikeNNG(user), leafCN.Cert); err != nil {
		t.Fatal(err)
	}
	if sawConn == 0 || sawPeer == 0 {
		t.Fatalf("user hooks saw %d and %d verified chains, want some", sawConn, sawPeer)
	}
	refuse := cfg(ca.Pool(), "server.test")
	refuse.VerifyConnection = func(tls.ConnectionState) error { return errors.New("user says no") }
	if err := handshake(t, transport.VerifyLikeNNG(refuse), leafCN.Cert); err == nil || !strings.Contains(err.Error(), "user says no") {
		t.Fatalf("user VerifyConnection refusal: %v", err)
	}
}

// tls+tcp and wss dialers verify as NNG does: a CN-only certificate is
// accepted for the URL's host, refused for another host.
func TestSecureDialCommonNameOnly(t *testing.T) {
	t.Parallel()
	cert := testkit.Issue(t, nil, "127.0.0.1", false)
	for _, tc := range secureMatrix() {
		if !tc.tls {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			srvOpts := map[string]any{mangos.OptionTLSConfig: &tls.Config{Certificates: []tls.Certificate{cert.Cert}, MinVersion: tls.VersionTLS12}}
			_, du := listen(t, srv, tc.url, srvOpts)
			must(t, cli.DialOptions(du, map[string]any{mangos.OptionTLSConfig: &tls.Config{RootCAs: cert.Pool(), MinVersion: tls.VersionTLS12}}))
			roundTrips(t, srv, cli, 5)

			other := newSock(t)
			err := other.DialOptions(du, map[string]any{mangos.OptionTLSConfig: &tls.Config{RootCAs: cert.Pool(), ServerName: "127.0.0.2", MinVersion: tls.VersionTLS12}})
			wantCode(t, err, nanoact.ErrPeerAuth)
		})
	}
}
