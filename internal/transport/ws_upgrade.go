package transport

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
)

// upgradeWriter is the http.ResponseWriter and http.Hijacker gorilla's
// Upgrader needs, over a raw connection: it keeps an error response until
// flush, and hands the connection over on Hijack.
type upgradeWriter struct {
	c        net.Conn
	br       *bufio.Reader
	h        http.Header
	status   int
	body     []byte
	hijacked bool
}

func (w *upgradeWriter) Header() http.Header {
	if w.h == nil {
		w.h = make(http.Header)
	}
	return w.h
}

func (w *upgradeWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *upgradeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

func (w *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.hijacked = true
	return w.c, bufio.NewReadWriter(w.br, bufio.NewWriterSize(w.c, wsBufSize)), nil
}

// flush writes the response kept, if any, and asks the client to close.
func (w *upgradeWriter) flush() {
	if w.hijacked || w.status == 0 {
		return
	}
	var b []byte
	b = fmt.Appendf(b, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	for _, k := range slices.Sorted(maps.Keys(w.h)) {
		if k == "Content-Length" || k == "Connection" {
			continue
		}
		for _, v := range w.h[k] {
			b = fmt.Appendf(b, "%s: %s\r\n", k, strings.Map(noCtl, v))
		}
	}
	b = fmt.Appendf(b, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(w.body))
	b = append(b, w.body...)
	_, _ = w.c.Write(b)
}

func noCtl(r rune) rune {
	if r < ' ' {
		return ' '
	}
	return r
}

// refuse answers the request on c with an HTTP error (under the deadline
// already set on c).
func refuse(c net.Conn, status int, text string) {
	w := &upgradeWriter{c: c}
	http.Error(w, text, status)
	w.flush()
}
