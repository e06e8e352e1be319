package transport

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
)

// This file holds what tls+tcp and wss share: the TLS handshake under the
// endpoint's handshake deadline, the checks on mangos.OptionTLSConfig, and
// the NNG codes of TLS failures. The tls+tcp transport itself is the tcp
// transport (dialer.go, listener.go, pipe.go) with tlsClient or tlsServer
// run on each new connection before the SP handshake.

// tlsCode returns the NNG code of a TLS failure: CodePeerAuth when a
// certificate did not verify (ours at the peer shows as an alert), and
// CodeCrypto for an alert or a record that is not TLS, as NNG reports
// them. ok is false for errors that are not TLS's.
func tlsCode(err error) (c nanoact.Code, ok bool) {
	switch c := nngerr.Code(err); c {
	case nanoact.CodePeerAuth, nanoact.CodeCrypto:
		return c, true
	}
	return 0, false
}

// needTLS checks that a tls+tcp or wss endpoint has its TLS config, and a
// listener a certificate to present. The errors have CodeInvalid.
func needTLS(t *tran, o options, listener bool, op string) error {
	if !t.tls {
		return nil
	}
	if o.tls == nil {
		return nanoact.Errorf(nanoact.CodeInvalid, op,
			"a %s:// endpoint needs a TLS config: set mangos.OptionTLSConfig to a *tls.Config", t.user)
	}
	if listener && len(o.tls.Certificates) == 0 && o.tls.GetCertificate == nil && o.tls.GetConfigForClient == nil {
		return nanoact.Errorf(nanoact.CodeInvalid, op,
			"a %s:// listener needs a certificate in its tls.Config", t.user)
	}
	return nil
}

// clientTLS returns cfg with ServerName set to host when it has none, as
// a name is needed to verify, and made to verify the server as NNG does
// (VerifyLikeNNG: a certificate without alternative names is checked
// against its Common Name). cfg itself is not changed.
func clientTLS(cfg *tls.Config, host string) *tls.Config {
	if cfg.ServerName == "" && host != "" {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	return VerifyLikeNNG(cfg)
}

// tlsHandshake runs the client (server false) or server side of a TLS
// handshake on c by deadline and returns the TLS connection, its deadline
// still set for the SP handshake that follows. Closing c interrupts it.
// On failure the caller closes c; the error has the code of tlsCode, or
// CodeTimedOut, CodeConnShut and so on for the connection's own failures,
// and CodeCrypto for any other refusal by crypto/tls.
func tlsHandshake(c net.Conn, cfg *tls.Config, server bool, deadline time.Time, timeout time.Duration, op string) (*tls.Conn, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return nil, wrapErr(op, err)
	}
	var tc *tls.Conn
	if server {
		tc = tls.Server(c, cfg)
	} else {
		tc = tls.Client(c, cfg)
	}
	if err := tc.Handshake(); err != nil {
		if codeOf(err) == nanoact.CodeTimedOut {
			return nil, &nanoact.Error{Code: nanoact.CodeTimedOut, Op: op,
				Err: fmt.Errorf("no TLS handshake within %v: %w", timeout, err)}
		}
		err = fmt.Errorf("tls handshake: %w", err)
		c, ok := tlsCode(err)
		if !ok {
			c = codeOf(err)
			if c == nanoact.CodeInternal {
				// crypto/tls's own refusals (no client certificate, no
				// common version or cipher suite) are plain errors.
				c = nanoact.CodeCrypto
			}
		}
		return nil, &nanoact.Error{Code: c, Op: op, Err: err}
	}
	return tc, nil
}
