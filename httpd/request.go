package httpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact/promises"
)

// Request is what a request handler receives (nanonext's req list): the
// method, the request URI, the headers and the whole body.
type Request struct {
	// Method is the HTTP method.
	Method string
	// URI is the request URI as sent: the path and the query.
	URI string
	// Header holds the request headers. It is the http.Request's own map:
	// read it, do not keep it beyond the handler's return.
	Header http.Header
	// Body is the request body, read in full (at most the server's body
	// limit; larger bodies are answered 413 before the handler runs).
	Body []byte
	// HTTP is the underlying request, for what the fields above leave out
	// (remote address, TLS state, parsed URL). Its body has been read.
	HTTP *http.Request
}

// Response is what a request handler returns (nanonext's list of status,
// headers and body).
type Response struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Header holds response headers to set; it may be nil.
	Header http.Header
	// Body is the response body, sent with a Content-Length.
	Body []byte
}

// RequestHandler serves requests with a function of the request: made by
// Handle (a function returning the response) or Async (a function returning
// a promise of it). It is an http.Handler, safe for concurrent use.
type RequestHandler struct {
	base
	call func(ctx context.Context, req *Request) (*Response, error)
}

// Handle returns a handler that calls fn for each request to path
// (nanonext's handler()): method "GET" and exact path unless Method or
// Prefix say otherwise. fn runs on the request's goroutine; ctx ends when
// the client goes away or the server closes. A nil response is an empty
// 200. An error, or a panic in fn, is answered 500 Internal Server Error and
// logged at Error with the panic's stack; the server goes on serving.
//
// Cost: the body is read into one buffer; beyond that and fn, routing and
// the handler add 2 allocations (128 B) to what a bare net/http handler
// costs, and a loopback round trip measures within the noise of a bare
// handler's (BenchmarkServeHTTP, BenchmarkRoundTrip).
func Handle(path string, fn func(ctx context.Context, req *Request) (*Response, error), opts ...HandlerOption) *RequestHandler {
	h := &RequestHandler{call: fn}
	h.init(newHandlerConfig(path, http.MethodGet, false, opts))
	if fn == nil {
		h.cfg.fail("nil handler function")
	}
	return h
}

// Async returns a handler like Handle's whose function returns a promise
// of the response, for handlers that wait on aios, RPC calls or other
// promises (an aio becomes one with aio.Promise). The request waits for
// the promise to settle; a rejection is answered 500 and logged. If the
// client goes away first the wait is abandoned, not the promise (as a
// cancelled ctx abandons waits throughout nanoact). A nil promise is
// answered 500.
func Async(path string, fn func(ctx context.Context, req *Request) *promises.Promise[*Response], opts ...HandlerOption) *RequestHandler {
	h := Handle(path, func(ctx context.Context, req *Request) (*Response, error) {
		p := fn(ctx, req)
		if p == nil {
			return nil, errors.New("nil promise")
		}
		return p.Await(ctx)
	}, opts...)
	if fn == nil {
		h.cfg.fail("nil handler function")
	}
	return h
}

// ServeHTTP reads the body, calls the handler's function and writes its
// response.
func (h *RequestHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, body, ok := h.prelude(w, r)
	if !ok {
		return
	}
	req := &Request{Method: r.Method, URI: r.RequestURI, Header: r.Header, Body: body, HTTP: r}
	var resp *Response
	var err error
	if !guard(e.log, "httpd: request handler", r, func() { resp, err = h.call(r.Context(), req) }) {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the client has gone: nobody to answer
		}
		e.log.Error("httpd: request handler failed", zap.String("method", r.Method), zap.String("uri", r.RequestURI), zap.Error(err))
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	writeResponse(w, resp)
}

// writeResponse writes resp (nil: an empty 200).
func writeResponse(w http.ResponseWriter, resp *Response) {
	if resp == nil {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	hd := w.Header()
	for k, vs := range resp.Header {
		hd[http.CanonicalHeaderKey(k)] = vs
	}
	hd.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if len(resp.Body) > 0 {
		_, _ = w.Write(resp.Body)
	}
}

// readBody reads r's whole body, at most limit bytes (< 0: no limit). A
// larger body is answered 413 Request Entity Too Large (before reading it
// when Content-Length says so) and ok is false; so is a body the client
// stops sending (answered 400).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	if !limitBody(w, r, limit) {
		return nil, false
	}
	var b []byte
	var err error
	if r.ContentLength > 0 {
		b = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, b)
	} else {
		b, err = io.ReadAll(r.Body)
	}
	if err != nil {
		if _, big := errors.AsType[*http.MaxBytesError](err); big {
			http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
		}
		return nil, false
	}
	return b, true
}

// limitBody applies the body limit to r: a declared length beyond it is
// answered 413 at once (ok false); otherwise the body is wrapped so that
// reading past the limit fails with *http.MaxBytesError.
func limitBody(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if limit < 0 || r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.ContentLength > limit {
		// Close the connection rather than read the rest of a body we
		// refuse.
		w.Header().Set("Connection", "close")
		http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return true
}

// guard runs fn and reports whether it returned without panicking; a panic
// is logged at Error with its stack. http.ErrAbortHandler is passed on, as
// net/http uses it to abort a response quietly.
func guard(log *zap.Logger, what string, r *http.Request, fn func()) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			fields := []zap.Field{zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack())}
			if r != nil {
				fields = append(fields, zap.String("method", r.Method), zap.String("uri", r.RequestURI))
			}
			log.Error(what+" panicked", fields...)
			ok = false
		}
	}()
	fn()
	return true
}

// invalid answers a request to a handler whose options were invalid (one
// served on its own, since a Server refuses such handlers).
func invalid(w http.ResponseWriter, e *env, p Pattern, err error) {
	e.log.Error("httpd: handler has an invalid configuration", zap.String("pattern", p.String()), zap.Error(err))
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
