package httpd

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/nanoact/nanoact"
)

// Mounted is a handler made of a Pattern and an http.Handler: what Mount,
// File, Directory, Inline and Redirect return. It is an http.Handler, safe
// for concurrent use. Request bodies are limited to the server's body
// limit (413 beyond it).
type Mounted struct {
	base
	h http.Handler
}

// ServeHTTP applies the body limit and serves the request.
func (m *Mounted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := m.env()
	if m.cfg.err != nil {
		invalid(w, e, m.cfg.pattern, m.cfg.err)
		return
	}
	if !limitBody(w, r, e.maxBody) {
		return
	}
	m.h.ServeHTTP(w, r)
}

func mounted(cfg handlerConfig, h http.Handler) *Mounted {
	m := &Mounted{h: h}
	m.init(cfg)
	return m
}

// Mount serves any http.Handler at path (method "*" and exact path unless
// Method or Prefix say otherwise): a Prometheus /metrics handler, a
// dashboard, an existing API. The request's URL is passed on unchanged; use
// http.StripPrefix inside if h expects paths relative to path. A panic in
// h is answered 500 and logged by the Server (as for every handler).
func Mount(path string, h http.Handler, opts ...HandlerOption) *Mounted {
	m := mounted(newHandlerConfig(path, "*", false, opts), h)
	if h == nil {
		m.cfg.fail("nil http.Handler")
	}
	return m
}

// File serves one file at path (nanonext's handler_file), with a
// Content-Type from its extension (or sniffed), Last-Modified, and range
// and conditional requests as http.ServeContent answers them. The file is
// opened for each request, so changes show at once; a missing file is
// 404. Method GET (and HEAD) unless Method says otherwise.
func File(path, file string, opts ...HandlerOption) *Mounted {
	return mounted(newHandlerConfig(path, http.MethodGet, false, opts), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(file)
		if err != nil {
			fileError(w, err)
			return
		}
		defer func() { _ = f.Close() }()
		st, err := f.Stat()
		if err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, filepath.Base(file), st.ModTime(), f)
	}))
}

func fileError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, http.StatusText(http.StatusNotFound), http.StatusNotFound)
	case errors.Is(err, fs.ErrPermission):
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
	default:
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

// Directory serves the files under dir at the URL path at and below (nanonext's
// handler_directory; it always matches by prefix): "/static/css/a.css"
// serves dir/css/a.css, and "/static/" serves dir/index.html. Directories
// are never listed (404 without an index.html, as NNG), and paths cannot
// leave dir (".." is cleaned away; symbolic links inside dir are
// followed). Method GET (and HEAD) unless Method says otherwise.
func Directory(at, dir string, opts ...HandlerOption) *Mounted {
	cfg := newHandlerConfig(at, http.MethodGet, true, opts)
	cfg.pattern.Prefix = true
	prefix := strings.TrimSuffix(at, "/")
	root := http.Dir(dir)
	return mounted(cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel := strings.TrimPrefix(r.URL.Path, prefix)
		name := path.Clean("/" + rel)
		f, err := root.Open(name)
		if err != nil {
			fileError(w, err)
			return
		}
		defer func() { _ = f.Close() }()
		st, err := f.Stat()
		if err != nil {
			fileError(w, err)
			return
		}
		if st.IsDir() {
			idx, err := root.Open(path.Join(name, "index.html"))
			if err != nil {
				fileError(w, err)
				return
			}
			defer func() { _ = idx.Close() }()
			if st, err = idx.Stat(); err != nil || st.IsDir() {
				http.NotFound(w, r)
				return
			}
			f = idx
		}
		http.ServeContent(w, r, st.Name(), st.ModTime(), f)
	}))
}

// Inline serves data from memory at path (nanonext's handler_inline) with
// the given Content-Type ("application/octet-stream" when empty). data is
// not copied: do not modify it afterwards. Conditional and range requests
// are answered by http.ServeContent. Method GET (and HEAD) unless Method
// says otherwise.
func Inline(path string, data []byte, contentType string, opts ...HandlerOption) *Mounted {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	mod := time.Now()
	return mounted(newHandlerConfig(path, http.MethodGet, false, opts), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		http.ServeContent(w, r, "", mod, bytes.NewReader(data))
	}))
}

// Redirect answers requests to path with a redirect to location, relative
// ("/new") or absolute (nanonext's handler_redirect). status must be 301,
// 302, 303, 307 or 308 (ErrInvalid otherwise, reported by New). Any method
// unless Method says otherwise.
func Redirect(path, location string, status int, opts ...HandlerOption) *Mounted {
	m := mounted(newHandlerConfig(path, "*", false, opts), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", location)
		w.WriteHeader(status)
	}))
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		m.cfg.fail("redirect status %d is not 301, 302, 303, 307 or 308", status)
	}
	if location == "" || strings.ContainsAny(location, "\r\n\x00") {
		m.cfg.fail("invalid redirect location %q", location)
	}
	return m
}

// errInvalid wraps a handler's configuration error.
func errInvalid(p Pattern, err error) error {
	return &nanoact.Error{Code: nanoact.CodeInvalid, Op: "httpd: handler " + p.String(), Err: err}
}
