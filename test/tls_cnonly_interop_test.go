package test

import (
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// writeCNOnlyFiles makes a self-signed certificate the way nanonext's
// write_cert() does (subject CN=cn, O=Nanonext, C=JP; no subject
// alternative names) and writes it and its key for nngcat.
func writeCNOnlyFiles(t *testing.T, cn string) pemFiles {
	t.Helper()
	c := testkit.Issue(t, nil, cn, false)
	certFile, keyFile := c.WriteFiles(t)
	return pemFiles{certPEM: c.CertPEM(), keyPEM: c.KeyPEM(t), cert: certFile, key: keyFile}
}

// Our dialers verify a C NNG server (nngcat) whose certificate has a
// Common Name only, as nanonext's write_cert() makes them, the way C NNG
// and nanonext clients do; the wrong name is still refused.
func TestTLSNngcatListensCommonNameOnly(t *testing.T) {
	for _, sc := range tlsSchemes {
		t.Run(sc.name, func(t *testing.T) {
			testkit.Nngcat(t)
			t.Parallel()
			pf := writeCNOnlyFiles(t, "127.0.0.1")
			port := testkit.FreePort(t)
			url := sc.name + "://127.0.0.1:" + port + sc.path
			cat := startNngcat(t, nil, args("--rep", "--listen", url,
				"--cert", pf.cert, "--key", pf.key, "--raw", "--data", "pong", "--count", 1)...)

			wrong := open(t, sockets.Req)
			var err error
			eventually(t, "nngcat listening", func() bool {
				_, err = wrong.Dial(url, sockets.Sync, sockets.TLS(tlsConfig(t, false, sockets.TLSCA(pf.certPEM), sockets.TLSServerName("127.0.0.2"))))
				return nanoact.CodeOf(err) != nanoact.CodeConnRefused
			})
			wantCode(t, err, nanoact.ErrPeerAuth)

			req := open(t, sockets.Req)
			if _, err := req.Dial(url, sockets.Sync, sockets.TLS(tlsConfig(t, false, sockets.TLSCA(pf.certPEM)))); err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			send(t, ctx, req, []byte("ping"))
			wantBytes(t, "reply", recvBytes(t, ctx, req), []byte("pong"))
			wantBytes(t, "request nngcat printed", cat.wait(t), []byte("ping"))
		})
	}
}
