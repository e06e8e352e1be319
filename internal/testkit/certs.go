package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Issued is a test certificate with its key: Cert is what a TLS server
// presents (the leaf, then an intermediate that signed it), Leaf its
// parsed form.
type Issued struct {
	Cert tls.Certificate
	Leaf *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Issue makes a certificate for cn, valid for an hour either side of now,
// shaped as nanonext's write_cert() makes them (subject CN=cn, O=Nanonext,
// C=JP) and with names as its subject alternative names (an IP address or
// a DNS name each; none, as write_cert, for a CN-only certificate). It is
// signed by parent, or self-signed when parent is nil; ca makes it a CA
// (a self-signed one always is, so that it verifies itself). It fails the
// test if a step fails.
func Issue(t testing.TB, parent *Issued, cn string, ca bool, names ...string) *Issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Nanonext"}, Country: []string{"JP"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  ca || parent == nil,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	signer, signKey := tmpl, any(key)
	if parent != nil {
		signer, signKey = parent.Leaf, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c := &Issued{Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, Leaf: leaf, Key: key}
	if parent != nil && parent.Leaf.Issuer.String() != parent.Leaf.Subject.String() {
		// An intermediate: the server sends it after the leaf.
		c.Cert.Certificate = append(c.Cert.Certificate, parent.Cert.Certificate[0])
	}
	return c
}

// Pool returns a pool trusting c.
func (c *Issued) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Leaf)
	return p
}

// CertPEM returns c's certificate in PEM.
func (c *Issued) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Certificate[0]})
}

// KeyPEM returns c's key in PEM (PKCS #8), failing t if it cannot.
func (c *Issued) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WriteFiles writes c's certificate and key as PEM files in a new
// directory of the test's (for nngcat's --cert, --key and --cacert) and
// returns their paths.
func (c *Issued) WriteFiles(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, c.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
