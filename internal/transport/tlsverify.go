package transport

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// This file verifies a TLS server as NNG does. NNG (and nanonext) verify
// with Mbed TLS, which checks the server name against the certificate's
// subject alternative names and, when the certificate has none, against
// its subject Common Name. Go's verifier has refused the Common Name since
// Go 1.15 ("relies on legacy Common Name field"), so the certificates
// nanonext's write_cert() makes (a CN only) would not verify here. The
// chain is verified as crypto/tls does; only the name check differs.

// oidSubjectAltName and oidCommonName are the X.509 object identifiers of
// the subjectAltName extension and the CN attribute.
var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCommonName     = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// VerifyLikeNNG returns cfg made to verify the server as NNG does: when
// cfg verifies (InsecureSkipVerify is false), a clone that turns
// crypto/tls's own verification off and verifies in VerifyConnection
// instead: the chain against cfg.RootCAs (nil: the system roots) with the
// intermediates the server sent, at cfg.Time, for server authentication;
// then the name (cfg.ServerName) with VerifyServerName. A
// VerifyConnection already in cfg runs after, seeing the verified chains,
// and a VerifyPeerCertificate is given them too. A cfg that does not verify
// (or nil) is returned as it is. Set ServerName before the call; the
// returned config is a fresh one that the caller may keep.
//
// Cost: one config clone per call; the handshake then costs what crypto/tls
// verification costs (one x509 Verify), and VerifyConnection also runs on
// resumed sessions, so a resumption is verified too.
func VerifyLikeNNG(cfg *tls.Config) *tls.Config {
	if cfg == nil || cfg.InsecureSkipVerify {
		return cfg
	}
	c := cfg.Clone()
	name := cfg.ServerName
	roots := cfg.RootCAs
	now := cfg.Time
	userConn, userPeer := cfg.VerifyConnection, cfg.VerifyPeerCertificate
	c.InsecureSkipVerify = true
	if userPeer != nil {
		// crypto/tls passes no verified chains under InsecureSkipVerify:
		// verify here first so that the user's check sees them.
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, 0, len(raw))
			for _, b := range raw {
				crt, err := x509.ParseCertificate(b)
				if err != nil {
					return err
				}
				certs = append(certs, crt)
			}
			chains, err := verifyServer(certs, roots, name, now)
			if err != nil {
				return err
			}
			return userPeer(raw, chains)
		}
	}
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		n := name
		if n == "" {
			n = cs.ServerName
		}
		chains, err := verifyServer(cs.PeerCertificates, roots, n, now)
		if err != nil {
			return err
		}
		if userConn != nil {
			cs.VerifiedChains = chains
			return userConn(cs)
		}
		return nil
	}
	return c
}

// VerifyServer verifies a server's certificates (leaf first, as sent) as
// NNG does: the chain to roots (nil: the system roots) at the current
// time, for server authentication, and the leaf's name with
// VerifyServerName. It returns the verified chains. A failure is a
// *tls.CertificateVerificationError, which carries CodePeerAuth.
func VerifyServer(certs []*x509.Certificate, roots *x509.CertPool, name string) ([][]*x509.Certificate, error) {
	return verifyServer(certs, roots, name, nil)
}

func verifyServer(certs []*x509.Certificate, roots *x509.CertPool, name string, now func() time.Time) ([][]*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, &tls.CertificateVerificationError{Err: errors.New("server sent no certificate")}
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	if now != nil {
		opts.CurrentTime = now()
	}
	for _, crt := range certs[1:] {
		opts.Intermediates.AddCert(crt)
	}
	chains, err := certs[0].Verify(opts)
	if err == nil {
		err = VerifyServerName(certs[0], name)
	}
	if err != nil {
		return nil, &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return chains, nil
}

// VerifyServerName checks that crt is valid for the server name as Mbed
// TLS (NNG, nanonext) checks it: against the subject alternative names
// when the certificate has that extension (as crypto/x509's
// VerifyHostname: DNS names with "*." wildcards of one label, IP
// addresses), and otherwise against every Common Name of the subject,
// ignoring case, with a "*." wildcard matching one leading label, and an
// IP address matching a CN that is the same address. An empty name is
// refused: there is nothing to check the certificate against. A mismatch
// is an x509.HostnameError.
func VerifyServerName(crt *x509.Certificate, name string) error {
	if name == "" {
		return errors.New("tls: no server name to verify the certificate against: set ServerName")
	}
	for _, e := range crt.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			return crt.VerifyHostname(name)
		}
	}
	host := strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	for _, atv := range crt.Subject.Names {
		if !atv.Type.Equal(oidCommonName) {
			continue
		}
		if cn, ok := atv.Value.(string); ok && matchCN(cn, host) {
			return nil
		}
	}
	return fmt.Errorf("tls: server name %q matches no Common Name of a certificate without alternative names (CN %q): %w",
		name, crt.Subject.CommonName, x509.HostnameError{Certificate: crt, Host: name})
}

// matchCN reports whether a certificate's Common Name cn names host.
func matchCN(cn, host string) bool {
	cn = strings.TrimSuffix(cn, ".")
	if cn == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		cip := net.ParseIP(strings.Trim(cn, "[]"))
		return cip != nil && cip.Equal(ip)
	}
	if strings.EqualFold(cn, host) {
		return true
	}
	// "*.example.com" names "a.example.com", not "example.com" nor
	// "a.b.example.com".
	suffix, ok := strings.CutPrefix(cn, "*")
	if !ok || !strings.HasPrefix(suffix, ".") || len(suffix) < 2 {
		return false
	}
	dot := strings.IndexByte(host, '.')
	return dot > 0 && strings.EqualFold(host[dot:], suffix)
}
