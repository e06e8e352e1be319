package sockets

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
)

// WriteCert generates a private key and a self-signed certificate for
// commonName, valid from an hour ago for validFor: nanonext's write_cert.
// Use certPEM and keyPEM with TLSCert for a server (or a client in mutual
// TLS) and certPEM with TLSCA for its peers.
//
// The certificate has subject CN=commonName, O=Nanonext, C=JP, is a CA
// (path length 0) so that it can verify itself, and may serve both TLS
// servers and clients. commonName is also its DNS subject alternative
// name, and its IP one when it is an IP address (Go checks IP hosts only
// against IP names; Mbed TLS, as in NNG and nanonext, only against DNS
// names), so it matches URLs whose host is exactly commonName. Where
// nanonext makes an RSA 4096 key (1 to 2 s), this makes an ECDSA P-256 key,
// which NNG's Mbed TLS accepts (tested against nngcat 1.5.2): about
// 0.25 ms and 30 KB allocated per call (BenchmarkWriteCert). The key is
// PKCS#8 PEM ("PRIVATE KEY"), unencrypted; the serial number is random.
// It does not block beyond that CPU time.
//
// Errors: ErrInvalid for an empty commonName or a validFor that is not
// positive; ErrCrypto if key generation or signing fails.
func WriteCert(commonName string, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	const op = "sockets: write cert"
	if commonName == "" {
		return nil, nil, nanoact.Errorf(nanoact.CodeInvalid, op, "empty common name")
	}
	if validFor <= 0 {
		return nil, nil, nanoact.Errorf(nanoact.CodeInvalid, op, "validity %v is not positive", validFor)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, &nanoact.Error{Code: nanoact.CodeCrypto, Op: op, Err: err}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, &nanoact.Error{Code: nanoact.CodeCrypto, Op: op, Err: err}
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, nil, &nanoact.Error{Code: nanoact.CodeCrypto, Op: op, Err: err}
	}
	ski := sha1.Sum(pub.Bytes()) // RFC 5280 §4.2.1.2 method 1
	now := time.Now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   commonName,
			Organization: []string{"Nanonext"},
			Country:      []string{"JP"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski[:],
		AuthorityKeyId:        ski[:],
		DNSNames:              []string{commonName},
	}
	if ip := net.ParseIP(commonName); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, &nanoact.Error{Code: nanoact.CodeCrypto, Op: op, Err: err}
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, &nanoact.Error{Code: nanoact.CodeCrypto, Op: op, Err: err}
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	return certPEM, keyPEM, nil
}

// readPEMFile reads a PEM file, mapping a missing file to ErrNotFound as
// NNG's nng_tls_config_ca_file and cert_key_file do.
func readPEMFile(op, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, &nanoact.Error{Code: nanoact.CodeNotFound, Op: op, Err: err}
	case errors.Is(err, fs.ErrPermission):
		return nil, &nanoact.Error{Code: nanoact.CodePermission, Op: op, Err: err}
	}
	return nil, nngerr.Wrap(err, op)
}

func parseCA(op string, data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		crt, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, &nanoact.Error{Code: nanoact.CodeCrypto, Op: op, Err: fmt.Errorf("CA certificate %d: %w", n+1, err)}
		}
		pool.AddCert(crt)
		n++
	}
	if n == 0 {
		return nil, nanoact.Errorf(nanoact.CodeCrypto, op, "no PEM certificate in the CA bundle")
	}
	return pool, nil
}

// keyPair parses a certificate chain and its private key, decrypting a
// legacy-encrypted key with pass.
func keyPair(op string, certPEM, keyPEM []byte, pass string) (tls.Certificate, error) {
	var key *pem.Block
	for rest := keyPEM; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "PRIVATE KEY" || strings.HasSuffix(blk.Type, " PRIVATE KEY") {
			key = blk
			break
		}
	}
	if key == nil {
		return tls.Certificate{}, nanoact.Errorf(nanoact.CodeCrypto, op, "no PEM private key found")
	}
	if key.Type == "ENCRYPTED PRIVATE KEY" {
		return tls.Certificate{}, nanoact.Errorf(nanoact.CodeCrypto, op,
			"encrypted PKCS#8 private keys are not supported: convert the key to legacy PEM encryption (openssl pkcs8 -traditional) or remove its password")
	}
	// Legacy PEM encryption is deprecated (it is unauthenticated) but is
	// the one encrypted key format the standard library reads.
	if x509.IsEncryptedPEMBlock(key) { //nolint:staticcheck // SA1019, see above
		if pass == "" {
			return tls.Certificate{}, nanoact.Errorf(nanoact.CodeCrypto, op, "private key is encrypted: give TLSKeyPassword")
		}
		der, err := x509.DecryptPEMBlock(key, []byte(pass)) //nolint:staticcheck // SA1019, see above
		if err != nil {
			return tls.Certificate{}, &nanoact.Error{Code: nanoact.CodeCrypto, Op: op, Err: fmt.Errorf("decrypt private key: %w", err)}
		}
		key = &pem.Block{Type: key.Type, Bytes: der}
	}
	kc, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(key))
	if err != nil {
		return tls.Certificate{}, &nanoact.Error{Code: nanoact.CodeCrypto, Op: op, Err: err}
	}
	return kc, nil
}
