package ncurl_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/ncurl"
)

// cnOnlyServer starts an HTTPS server whose certificate has a Common Name
// and no alternative names, as nanonext's write_cert() makes them, and
// returns it with a config trusting that certificate.
func cnOnlyServer(t *testing.T, cn string) (*httptest.Server, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Nanonext"}, Country: []string{"JP"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
	s.StartTLS()
	t.Cleanup(s.Close)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return s, &tls.Config{RootCAs: pool}
}

// An https server with a CN-only certificate verifies as NNG (and
// nanonext's ncurl) verify it: accepted for its name, refused for another.
func TestHTTPSCommonNameOnly(t *testing.T) {
	s, roots := cnOnlyServer(t, "127.0.0.1")
	r, err := ncurl.Get(t.Context(), s.URL+"/", ncurl.TLS(roots))
	if err != nil {
		t.Fatal(err)
	}
	wantText(t, r, 200, "hello")

	wrong := roots.Clone()
	wrong.ServerName = "127.0.0.2"
	_, err = ncurl.Get(t.Context(), s.URL+"/", ncurl.TLS(wrong))
	wantCode(t, err, nanoact.ErrPeerAuth)

	_, other := cnOnlyServer(t, "127.0.0.1")
	_, err = ncurl.Get(t.Context(), s.URL+"/", ncurl.TLS(other))
	wantCode(t, err, nanoact.ErrPeerAuth)
}
