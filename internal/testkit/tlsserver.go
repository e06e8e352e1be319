package testkit

import (
	"testing"
	"time"

	"github.com/nanoact/nanoact/sockets"
)

// SelfSignedServer returns a server TLS config over a certificate from
// sockets.WriteCert for host, valid for an hour, and the certificate's
// PEM (what a client trusts: sockets.TLSCA, or an x509.CertPool). It
// fails the test on error.
func SelfSignedServer(t testing.TB, host string) (cfg *sockets.TLSConfig, certPEM []byte) {
	t.Helper()
	cert, key, err := sockets.WriteCert(host, time.Hour)
	if err != nil {
		t.Fatalf("WriteCert: %v", err)
	}
	cfg, err = sockets.NewTLSServer(sockets.TLSCert(cert, key))
	if err != nil {
		t.Fatalf("NewTLSServer: %v", err)
	}
	return cfg, cert
}
