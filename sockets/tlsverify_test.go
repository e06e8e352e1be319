package sockets_test

import (
	"strings"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// cnOnlyCert makes a self-signed certificate the way nanonext's
// write_cert() does: subject CN=cn, O=Nanonext, C=JP, a CA so that it
// verifies itself, and no subject alternative names. san, when given, is
// added as a DNS or IP alternative name.
func cnOnlyCert(t *testing.T, cn string, san ...string) testCert {
	t.Helper()
	c := testkit.Issue(t, nil, cn, false, san...)
	return testCert{cert: c.CertPEM(), key: c.KeyPEM(t)}
}

// A client verifies a server as NNG does, over tls+tcp and wss: a
// certificate with only a Common Name (nanonext's write_cert) is accepted
// for that name and refused for another or from another CA; a certificate
// with alternative names is checked against them only.
func TestTLSCommonNameOnly(t *testing.T) {
	t.Parallel()
	cn := cnOnlyCert(t, "127.0.0.1")
	stranger := cnOnlyCert(t, "127.0.0.1")
	sanElsewhere := cnOnlyCert(t, "127.0.0.1", "elsewhere.test") // CN matches, SAN does not
	sanHere := cnOnlyCert(t, "elsewhere.test", "127.0.0.1")
	for _, scheme := range []string{"tls+tcp://127.0.0.1:0", "wss://127.0.0.1:0/cn"} {
		t.Run(strings.SplitN(scheme, ":", 2)[0], func(t *testing.T) {
			t.Parallel()
			serve := func(c testCert) (*sockets.Socket, string) {
				rep := open(t, sockets.Rep)
				return rep, tlsListen(t, rep, scheme, tlsServer(t, sockets.TLSCert(c.cert, c.key)))
			}
			rep, url := serve(cn)
			for _, b := range []struct {
				name string
				cli  *sockets.TLSConfig
			}{
				{"wrong name", tlsClient(t, sockets.TLSCA(cn.cert), sockets.TLSServerName("127.0.0.2"))},
				{"wrong CA", tlsClient(t, sockets.TLSCA(stranger.cert))},
			} {
				req := open(t, sockets.Req)
				_, err := req.Dial(url, sockets.Sync, sockets.TLS(b.cli))
				wantCode(t, err, nanoact.ErrPeerAuth)
			}
			req := open(t, sockets.Req)
			tlsDial(t, req, rep, url, tlsClient(t, sockets.TLSCA(cn.cert)))
			reqRep(t, req, rep)

			// A SAN present means the CN is ignored.
			_, url = serve(sanElsewhere)
			_, err := open(t, sockets.Req).Dial(url, sockets.Sync, sockets.TLS(tlsClient(t, sockets.TLSCA(sanElsewhere.cert))))
			wantCode(t, err, nanoact.ErrPeerAuth)
			rep, url = serve(sanHere)
			req = open(t, sockets.Req)
			tlsDial(t, req, rep, url, tlsClient(t, sockets.TLSCA(sanHere.cert)))
			reqRep(t, req, rep)
		})
	}
}

// Mutual TLS with CN-only certificates on both sides: the server checks
// the client's chain (not its name, as NNG), the client the server's CN.
func TestTLSCommonNameOnlyMutual(t *testing.T) {
	t.Parallel()
	sc, cc := cnOnlyCert(t, "127.0.0.1"), cnOnlyCert(t, "a client")
	rep := open(t, sockets.Rep)
	url := tlsListen(t, rep, "tls+tcp://127.0.0.1:0",
		tlsServer(t, sockets.TLSCert(sc.cert, sc.key), sockets.TLSCA(cc.cert), sockets.TLSAuth(sockets.TLSAuthRequired)))
	req := open(t, sockets.Req)
	tlsDial(t, req, rep, url, tlsClient(t, sockets.TLSCA(sc.cert), sockets.TLSCert(cc.cert, cc.key)))
	reqRep(t, req, rep)
}

// DialStream over wss verifies a CN-only certificate as NNG does.
func TestStreamWSSCommonNameOnly(t *testing.T) {
	t.Parallel()
	cn, stranger := cnOnlyCert(t, "127.0.0.1"), cnOnlyCert(t, "127.0.0.1")
	l, err := sockets.ListenStream("wss://127.0.0.1:0/cn", sockets.TLS(tlsServer(t, sockets.TLSCert(cn.cert, cn.key))))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := ctxT(t)
	_, err = sockets.DialStream(ctx, l.URL(), sockets.TLS(tlsClient(t, sockets.TLSCA(stranger.cert))))
	wantCode(t, err, nanoact.ErrPeerAuth)
	_, err = sockets.DialStream(ctx, l.URL(), sockets.TLS(tlsClient(t, sockets.TLSCA(cn.cert), sockets.TLSServerName("localhost"))))
	wantCode(t, err, nanoact.ErrPeerAuth)

	accepted := make(chan *sockets.Stream, 1)
	go func() {
		s, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- s
	}()
	c, err := sockets.DialStream(ctx, l.URL(), sockets.TLS(tlsClient(t, sockets.TLSCA(cn.cert))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	defer s.Close()
	if err := c.Send(ctx, "cn only"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, s, sockets.Raw); err != nil || v != "cn only" {
		t.Fatalf("%q %v", v, err)
	}
}

// Optional mode checks as required mode does, and logs instead of
// refusing: a CN-only certificate for the dialled IP verifies; one for
// another IP is logged, although an IP host is not sent as SNI.
func TestTLSOptionalCommonNameOnly(t *testing.T) {
	t.Parallel()
	const msg = "tls: server certificate not verified (auth mode optional)"
	for _, tc := range []struct {
		cn   string
		logs int
	}{{"127.0.0.1", 0}, {"10.0.0.1", 1}} {
		t.Run(tc.cn, func(t *testing.T) {
			t.Parallel()
			c := cnOnlyCert(t, tc.cn)
			log, logs := observed()
			rep, req := open(t, sockets.Rep), open(t, sockets.Req, sockets.WithLogger(log))
			url := tlsListen(t, rep, "tls+tcp://127.0.0.1:0", tlsServer(t, sockets.TLSCert(c.cert, c.key)))
			tlsDial(t, req, rep, url, tlsClient(t, sockets.TLSCA(c.cert), sockets.TLSAuth(sockets.TLSAuthOptional)))
			reqRep(t, req, rep)
			if n := logs.FilterMessage(msg).Len(); n != tc.logs {
				t.Fatalf("%d %q logs, want %d: %v", n, msg, tc.logs, logs.All())
			}
		})
	}
}
