package ncurl_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/ncurl"
)

// bigSize is the size of the large-body tests: 10 MiB.
const bigSize = 10 << 20

// bigBody returns bigSize deterministic bytes (with NULs in them), made
// once; callers must not modify them.
var bigBody = sync.OnceValue(func() []byte {
	b := make([]byte, bigSize)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
})

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// testServer is an httptest server with the handlers the tests use, and a
// count of the connections it accepted.
type testServer struct {
	*httptest.Server
	conns   atomic.Int64
	newConn chan struct{} // receives once per connection accepted (buffered)
	release chan struct{} // closed at cleanup: frees /slow handlers
}

// handler serves:
//
//	/text            "hello"
//	/bytes           0x00 0x01 0x02 0xff
//	/nul             "abc\x00" (trailing NUL)
//	/nulmid          "ab\x00cd"
//	/echo            "METHOD|host|X-Test|Authorization|body", X-Len header
//	/headers         X-One: 1, X-Multi: a and b
//	/status/N        status N
//	/redirect        302 to /text (relative)
//	/redirect307     307 to /echo
//	/to?u=URL        302 to URL
//	/loop            302 to /loop
//	/slow            waits for the client to go away
//	/big             bigBody()
//	/upload          "len sha256" of the request body
//	/chunked         "one two three", flushed in pieces
//	/early           103 Early Hints, then 200 "final"
//	/close           "bye" with Connection: close
func (s *testServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte{0, 1, 2, 0xff}) })
	mux.HandleFunc("/nul", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "abc\x00") })
	mux.HandleFunc("/nulmid", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ab\x00cd") })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Len", strconv.Itoa(len(b)))
		fmt.Fprintf(w, "%s|%s|%s|%s|%s", r.Method, r.Host, r.Header.Get("X-Test"), r.Header.Get("Authorization"), b)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-One", "1")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
		io.WriteString(w, http.StatusText(code))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/text")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/redirect307", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/echo")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.Query().Get("u"))
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/loop")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(bigBody()) })
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %s", len(b), sum(b))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for _, p := range []string{"one ", "two ", "three"} {
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/early", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	return mux
}

func startServer(t testing.TB, useTLS bool) *testServer {
	t.Helper()
	s := &testServer{release: make(chan struct{}), newConn: make(chan struct{}, 1024)}
	s.Server = httptest.NewUnstartedServer(s.handler())
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
			select {
			case s.newConn <- struct{}{}:
			default:
			}
		}
	}
	// Handshakes refused on purpose would otherwise be logged to stderr.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if useTLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.release) }) // runs before s.Close
	return s
}

// newServer starts a plain HTTP test server, closed at cleanup.
func newServer(t testing.TB) *testServer { return startServer(t, false) }

// newTLSServer starts an HTTPS test server, closed at cleanup.
func newTLSServer(t testing.TB) *testServer { return startServer(t, true) }

// roots returns a TLS config trusting s's certificate.
func (s *testServer) roots() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &tls.Config{RootCAs: pool}
}

// otherRoots returns a TLS config trusting only a freshly made CA, which
// did not sign any test server's certificate.
func otherRoots(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "other test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool}
}

// refusedURL returns an http URL on which nothing listens: the address of
// a listener that has been closed.
func refusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/"
}

// wantCode fails t unless err is a *nanoact.Error with code want.
func wantCode(t testing.TB, err error, want *nanoact.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want code %v", err, want.Code)
	}
	var ne *nanoact.Error
	if !errors.As(err, &ne) {
		t.Fatalf("error %v (%T) is not a *nanoact.Error", err, err)
	}
}

func wantText(t testing.TB, r *ncurl.Response, status int, text string) {
	t.Helper()
	if r.Status != status || r.Text != text || !r.Converted || !bytes.Equal(r.Data, []byte(text)) {
		t.Fatalf("response = %d %q (converted %v, data %q), want %d %q", r.Status, r.Text, r.Converted, r.Data, status, text)
	}
}
