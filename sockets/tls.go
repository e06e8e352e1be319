package sockets

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

// TLSAuthMode says whether a TLS endpoint verifies its peer's certificate.
// The values are NNG's (nng_tls_auth_mode).
type TLSAuthMode int

const (
	// TLSAuthNone does not verify the peer. A client accepts any server
	// certificate, so the link is encrypted but not authenticated; a
	// server asks for no client certificate.
	TLSAuthNone TLSAuthMode = 0
	// TLSAuthOptional verifies a certificate the peer presents. A client
	// checks the server's certificate but connects even when the check
	// fails (the failure is logged at Warn, as NNG's optional mode
	// ignores it); a server asks for a client certificate, accepts a
	// client that sends none, and turns away one whose certificate does
	// not verify (Go's tls.VerifyClientCertIfGiven).
	TLSAuthOptional TLSAuthMode = 1
	// TLSAuthRequired requires a valid peer certificate: a client fails
	// the handshake unless the server's certificate chains to the CA and
	// matches the server name; a server requires a client certificate that
	// chains to its CA (tls.RequireAndVerifyClientCert). The name is
	// checked as NNG (Mbed TLS) checks it: against the certificate's
	// subject alternative names, or against its Common Name when it has
	// none, so the CN-only certificates of nanonext's write_cert() verify
	// (Go's own verifier refuses them).
	TLSAuthRequired TLSAuthMode = 2
)

// String returns "none", "optional" or "required", as nanonext prints the
// mode.
func (m TLSAuthMode) String() string {
	switch m {
	case TLSAuthNone:
		return "none"
	case TLSAuthOptional:
		return "optional"
	case TLSAuthRequired:
		return "required"
	}
	return fmt.Sprintf("TLSAuthMode(%d)", int(m))
}

// TLSConfig is a TLS configuration for dialers (a client config, made by
// NewTLSClient) or listeners (a server config, made by NewTLSServer):
// nanonext's tlsConfig. It is immutable once built and safe for concurrent
// use; one config may serve any number of sockets and endpoints. The zero
// value is not usable: build one with a constructor.
//
// Pass it to a dial or listen of a tls+tcp:// or wss:// URL with TLS,
// or to New with WithTLS.
type TLSConfig struct {
	server     bool
	auth       TLSAuthMode
	serverName string
	roots      *x509.CertPool // nil: the system roots
	base       *tls.Config    // never handed out; cloned per endpoint
}

// TLSOption configures a TLSConfig in NewTLSClient or NewTLSServer.
type TLSOption interface{ applyTLS(*tlsSettings) }

type tlsOptionFunc func(*tlsSettings)

func (f tlsOptionFunc) applyTLS(s *tlsSettings) { f(s) }

type tlsSettings struct {
	certPEM, keyPEM   []byte
	certFile, keyFile string
	caPEM             []byte
	caFile            string
	auth              TLSAuthMode
	authSet           bool
	pass              string
	serverName        string
}

// TLSCert sets the endpoint's own certificate (chain, leaf first) and
// private key, both PEM-encoded. keyPEM may be nil when certPEM holds the
// key as well. A server needs one; a client sends it when the server asks
// for a certificate (mutual TLS). The key may be PKCS#1, PKCS#8 or SEC 1
// (RSA, ECDSA or Ed25519), legacy-encrypted with TLSKeyPassword. It
// replaces an earlier TLSCert or TLSCertFiles. The bytes are parsed by the
// constructor and not kept.
func TLSCert(certPEM, keyPEM []byte) TLSOption {
	return tlsOptionFunc(func(s *tlsSettings) {
		s.certPEM, s.keyPEM, s.certFile, s.keyFile = certPEM, keyPEM, "", ""
	})
}

// TLSCertFiles is TLSCert with the PEM read from files by the constructor
// (nanonext's tls_config(server = path)). keyFile may be "" when certFile
// holds both the certificate and the key. It replaces an earlier TLSCert
// or TLSCertFiles.
func TLSCertFiles(certFile, keyFile string) TLSOption {
	return tlsOptionFunc(func(s *tlsSettings) {
		s.certFile, s.keyFile, s.certPEM, s.keyPEM = certFile, keyFile, nil, nil
	})
}

// TLSCA sets the PEM bundle of CA certificates that peers' certificates
// must chain to: server certificates for a client, client certificates
// for a server. Without it, certificates are verified against the
// system's roots.
// Blocks other than CERTIFICATE (such as an X509 CRL, which nanonext
// accepts beside the chain) are ignored: revocation is not checked. It
// replaces an earlier TLSCA or TLSCAFile.
func TLSCA(pem []byte) TLSOption {
	return tlsOptionFunc(func(s *tlsSettings) { s.caPEM, s.caFile = pem, "" })
}

// TLSCAFile is TLSCA with the bundle read from a file by the constructor
// (nanonext's tls_config(client = path)).
func TLSCAFile(path string) TLSOption {
	return tlsOptionFunc(func(s *tlsSettings) { s.caFile, s.caPEM = path, nil })
}

// TLSAuth sets the peer authentication mode. The default for a client is
// TLSAuthRequired (nanonext's auth = TRUE; note that nanonext's
// tls_config() with no arguments gives mode none, which here must be asked
// for). The default for a server is TLSAuthOptional when TLSCA is given
// and TLSAuthNone otherwise. An unknown mode makes the constructor fail
// with ErrInvalid.
func TLSAuth(mode TLSAuthMode) TLSOption {
	return tlsOptionFunc(func(s *tlsSettings) { s.auth, s.authSet = mode, true })
}

// TLSKeyPassword sets the password of an encrypted private key
// (nanonext's pass). Only legacy PEM encryption ("Proc-Type: 4,ENCRYPTED",
// as openssl's -traditional output) is supported; an encrypted PKCS#8 key
// ("ENCRYPTED PRIVATE KEY") makes the constructor fail with ErrCrypto. It
// is ignored for a key that is not encrypted.
func TLSKeyPassword(pass string) TLSOption {
	return tlsOptionFunc(func(s *tlsSettings) { s.pass = pass })
}

// TLSServerName sets the name a client sends (SNI) and checks the server's
// certificate against. By default each dialer uses the host of the URL it
// dials, without changing the shared config (nanonext instead writes the
// last dialed host into the config). A server config fails with
// ErrInvalid.
func TLSServerName(name string) TLSOption {
	return tlsOptionFunc(func(s *tlsSettings) { s.serverName = name })
}

// NewTLSClient builds a client TLS config for dialers. It reads and parses
// the files and PEM given, once, and does not block otherwise; the cost is
// that of parsing (tens of µs per certificate).
//
// Errors (*nanoact.Error): ErrCrypto for PEM that does not parse, a key
// that does not match the certificate, a wrong key password or an
// encrypted PKCS#8 key; ErrNotFound or ErrPermission for a file that
// cannot be read; ErrInvalid for an unknown auth mode.
func NewTLSClient(opts ...TLSOption) (*TLSConfig, error) {
	return newTLSConfig(false, opts)
}

// NewTLSServer builds a server TLS config for listeners. TLSCert or
// TLSCertFiles is required (ErrInvalid without). Otherwise as NewTLSClient.
func NewTLSServer(opts ...TLSOption) (*TLSConfig, error) {
	return newTLSConfig(true, opts)
}

func newTLSConfig(server bool, opts []TLSOption) (*TLSConfig, error) {
	op := "sockets: tls client config"
	if server {
		op = "sockets: tls server config"
	}
	var st tlsSettings
	for _, o := range opts {
		if o != nil {
			o.applyTLS(&st)
		}
	}
	c := &TLSConfig{server: server, auth: TLSAuthRequired, serverName: st.serverName}
	if server {
		c.auth = TLSAuthNone
		if st.caPEM != nil || st.caFile != "" {
			c.auth = TLSAuthOptional
		}
		if st.serverName != "" {
			return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "TLSServerName applies to clients only")
		}
	}
	if st.authSet {
		if st.auth < TLSAuthNone || st.auth > TLSAuthRequired {
			return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "unknown auth mode %d", int(st.auth))
		}
		c.auth = st.auth
	}

	// The CA bundle.
	caPEM := st.caPEM
	if st.caFile != "" {
		b, err := readPEMFile(op, st.caFile)
		if err != nil {
			return nil, err
		}
		caPEM = b
	}
	if caPEM != nil {
		pool, err := parseCA(op, caPEM)
		if err != nil {
			return nil, err
		}
		c.roots = pool
	}

	// The own certificate and key.
	certPEM, keyPEM := st.certPEM, st.keyPEM
	if st.certFile != "" {
		b, err := readPEMFile(op, st.certFile)
		if err != nil {
			return nil, err
		}
		certPEM, keyPEM = b, nil
		if st.keyFile != "" {
			if keyPEM, err = readPEMFile(op, st.keyFile); err != nil {
				return nil, err
			}
		}
	}
	var cert *tls.Certificate
	if certPEM != nil {
		if len(keyPEM) == 0 {
			keyPEM = certPEM
		}
		kc, err := keyPair(op, certPEM, keyPEM, st.pass)
		if err != nil {
			return nil, err
		}
		cert = &kc
	}

	b := &tls.Config{MinVersion: tls.VersionTLS12}
	if server {
		if cert == nil {
			return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "a server needs a certificate and key: give TLSCert or TLSCertFiles")
		}
		b.Certificates = []tls.Certificate{*cert}
		b.ClientCAs = c.roots
		switch c.auth {
		case TLSAuthRequired:
			b.ClientAuth = tls.RequireAndVerifyClientCert
		case TLSAuthOptional:
			b.ClientAuth = tls.VerifyClientCertIfGiven
		default:
			b.ClientAuth = tls.NoClientCert
		}
	} else {
		b.RootCAs = c.roots
		b.InsecureSkipVerify = c.auth != TLSAuthRequired
		if cert != nil {
			// Send our certificate whenever asked, as NNG (Mbed TLS)
			// does, rather than only when it matches the server's list
			// of acceptable CAs: a refusal is then the server's, with
			// its reason.
			kc := cert
			b.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kc, nil }
		}
	}
	c.base = b
	return c, nil
}

// check returns ErrInvalid unless c is a config built by NewTLSClient
// (server false) or NewTLSServer (server true): a zero-value TLSConfig, or
// one of the wrong kind, cannot serve.
func (c *TLSConfig) check(op string, server bool) error {
	kind, ctor := "client", "NewTLSClient"
	if server {
		kind, ctor = "server", "NewTLSServer"
	}
	if c.base == nil {
		return nanoact.Errorf(nanoact.CodeInvalid, op, "a zero TLSConfig is not usable: build the TLS %s config with %s", kind, ctor)
	}
	if c.server != server {
		return nanoact.Errorf(nanoact.CodeInvalid, op, "%s given where a TLS %s config is needed", c, kind)
	}
	return nil
}

// Server reports whether c is a server config (made by NewTLSServer).
func (c *TLSConfig) Server() bool { return c.server }

// AuthMode returns the peer authentication mode.
func (c *TLSConfig) AuthMode() TLSAuthMode { return c.auth }

// String describes the config as nanonext prints it:
// "< TLS client config | auth mode: required >".
func (c *TLSConfig) String() string {
	kind := "client"
	if c.server {
		kind = "server"
	}
	return fmt.Sprintf("< TLS %s config | auth mode: %s >", kind, c.auth)
}

// clientConfig returns a fresh crypto/tls config for one dialer of host
// (used when no TLSServerName was given). The server is verified as NNG
// verifies it (transport.VerifyLikeNNG): the chain as crypto/tls does, and
// the name against the certificate's alternative names, or its Common
// Name when it has none, as nanonext's write_cert() certificates need.
// unverified, if not nil, hears about a failed verification in optional
// mode.
func (c *TLSConfig) clientConfig(host string, unverified func(error)) *tls.Config {
	tc := c.base.Clone()
	tc.ServerName = c.serverName
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if c.auth == TLSAuthOptional {
		roots, name := c.roots, tc.ServerName
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if _, err := transport.VerifyServer(cs.PeerCertificates, roots, name); err != nil && unverified != nil {
				unverified(err)
			}
			return nil
		}
	}
	return transport.VerifyLikeNNG(tc)
}

// serverConfig returns a crypto/tls config for one listener.
func (c *TLSConfig) serverConfig() *tls.Config { return c.base.Clone() }

// ServerConfig returns a fresh crypto/tls config built from c, for servers
// outside this package that take a *tls.Config (httpd's HTTPS server). Each
// call clones the config (a few µs); the caller may change the copy. It
// fails with ErrInvalid for a client config or a zero TLSConfig.
func (c *TLSConfig) ServerConfig() (*tls.Config, error) {
	if err := c.check("sockets: tls server config", true); err != nil {
		return nil, err
	}
	return c.serverConfig(), nil
}
