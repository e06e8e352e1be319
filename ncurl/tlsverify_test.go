package ncurl_test

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/ncurl"
)

// cnOnlyServer starts an HTTPS server whose certificate has a Common Name
// and no alternative names, as nanonext's write_cert() makes them, and
// returns it with a config trusting that certificate.
func cnOnlyServer(t *testing.T, cn string) (*httptest.Server, *tls.Config) {
	t.Helper()
	c := testkit.Issue(t, nil, cn, false)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{c.Cert}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s, &tls.Config{RootCAs: c.Pool()}
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
