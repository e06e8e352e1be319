package httpd

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nanoact/nanoact"
)

// StreamHandler serves long-lived streaming responses (chunked transfer
// encoding): Server-Sent Events, NDJSON and the like (nanonext's
// handler_stream). It is an http.Handler, safe for concurrent use. Each
// open stream holds its request goroutine, which waits (no polling) until
// the stream is closed, the client goes away or the server shuts down;
// sends are written by the sender's goroutine.
//
// A StreamHandler serves one Server, whose Shutdown and Close end its
// streams; served on its own, Close it to end them.
type StreamHandler struct {
	base
	onRequest func(c *StreamConn, req *Request)
	onClose   func(c *StreamConn)
	hub       *hub[*StreamConn]
}

// Stream returns a handler for streaming responses at path (method "*"
// unless Method says otherwise). onRequest is called on the request's
// goroutine when a request arrives; it may send at once, or keep c and
// send later from anywhere, and returns without waiting. The response
// stays open after it returns, until c.Close, the client disconnecting or
// the server closing. onClose, which may be nil, is then called once, on
// the request's goroutine, and the request's goroutine returns: no
// goroutine is left behind. A panic in either callback is logged at Error;
// one in onRequest answers 500 if nothing was sent yet and closes the
// stream.
func Stream(path string, onRequest func(c *StreamConn, req *Request), onClose func(c *StreamConn), opts ...HandlerOption) *StreamHandler {
	h := &StreamHandler{onRequest: onRequest, onClose: onClose, hub: newHub[*StreamConn]()}
	h.init(newHandlerConfig(path, "*", false, opts))
	if onRequest == nil {
		h.cfg.fail("nil onRequest function")
	}
	return h
}

// Conns returns the number of open streams.
func (h *StreamHandler) Conns() int { return h.hub.count() }

// Broadcast sends data to every open stream, one after the other, and
// returns to how many it was written. It blocks while a client's
// connection does not take the data, up to the write timeout for each
// (see WriteTimeout); a stream that fails is closed.
func (h *StreamHandler) Broadcast(data []byte) int { return h.hub.broadcast(data) }

// Close ends every open stream (each gets its terminal chunk), refuses new
// requests with 503 and returns once their goroutines have returned. A
// Server's Shutdown and Close do this for its handlers. A second Close
// returns ErrClosed.
func (h *StreamHandler) Close() error {
	return h.hub.close("httpd: close stream handler "+h.cfg.pattern.Path, h.endConns)
}

func (h *StreamHandler) endConns(abort bool) { h.hub.stop(abort) }

func (h *StreamHandler) waitConns() { h.hub.wg.Wait() }

// ServeHTTP reads the body, calls onRequest and holds the response open
// until the stream ends.
func (h *StreamHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, body, ok := h.prelude(w, r)
	if !ok {
		return
	}
	c := &StreamConn{
		id:      e.ids.Add(1),
		w:       w,
		rc:      http.NewResponseController(w),
		status:  http.StatusOK,
		timeout: h.cfg.writeTimeout,
		done:    make(chan struct{}),
	}
	if !h.hub.add(c.id, c) {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.hub.remove(c.id)
	req := &Request{Method: r.Method, URI: r.RequestURI, Header: r.Header, Body: body, HTTP: r}
	if !guard(e.log, "httpd: stream request callback", r, func() { h.onRequest(c, req) }) {
		c.mu.Lock()
		if !c.started {
			c.started = true
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
		c.mu.Unlock()
		c.finish()
	}
	select {
	case <-c.done:
	case <-r.Context().Done():
	case <-h.hub.end:
	}
	c.mu.Lock()
	c.closed = true
	if !c.started && r.Context().Err() == nil {
		c.started = true
		w.WriteHeader(c.status)
	}
	_ = c.rc.SetWriteDeadline(time.Time{})
	c.mu.Unlock()
	c.finish()
	if h.onClose != nil {
		guard(e.log, "httpd: stream close callback", r, func() { h.onClose(c) })
	}
}

// StreamConn is one open streaming response (nanonext's nanoStreamConn).
// Its methods are safe for concurrent use from any goroutine.
type StreamConn struct {
	id      uint64
	timeout time.Duration
	done    chan struct{}
	once    sync.Once

	mu      sync.Mutex // serialises writes; guards the fields below
	w       http.ResponseWriter
	rc      *http.ResponseController
	status  int
	started bool // the status line and headers are written
	closed  bool // the request has returned: w must not be touched
}

// ID returns the stream's identifier, unique among all websocket and
// stream connections of a Server (nanonext's conn$id).
func (c *StreamConn) ID() uint64 { return c.id }

// Done returns a channel closed once the stream is closing.
func (c *StreamConn) Done() <-chan struct{} { return c.done }

// SetStatus sets the response status (default 200). It fails with
// ErrState after the first Send, with ErrInvalid for a code outside
// 100–999, and with ErrClosed once the stream has ended.
func (c *StreamConn) SetStatus(code int) error {
	if code < 100 || code > 999 {
		return nanoact.Errorf(nanoact.CodeInvalid, "httpd: stream set status", "status %d is not a 3-digit code", code)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable("httpd: stream set status"); err != nil {
		return err
	}
	c.status = code
	return nil
}

// SetHeader sets a response header, replacing earlier values. It fails as
// SetStatus does, and with ErrInvalid for a name that is not an HTTP token
// or a value holding CR, LF or NUL.
func (c *StreamConn) SetHeader(name, value string) error {
	const op = "httpd: stream set header"
	if !validToken(name) || strings.ContainsAny(value, "\r\n\x00") {
		return nanoact.Errorf(nanoact.CodeInvalid, op, "invalid header %q", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writable(op); err != nil {
		return err
	}
	c.w.Header().Set(name, value)
	return nil
}

func (c *StreamConn) writable(op string) error {
	switch {
	case c.closed:
		return nanoact.Errorf(nanoact.CodeClosed, op, "stream closed")
	case c.started:
		return nanoact.Errorf(nanoact.CodeState, op, "headers already sent")
	}
	return nil
}

// Send writes data as one chunk and flushes it to the client; the first
// Send writes the status and headers first. It blocks until the data is
// handed to the connection, at most the write timeout (WriteTimeout). It
// fails with ErrClosed once the stream has ended; a failed write closes
// the stream and returns an ErrClosed-coded error wrapping the cause. data
// is not kept.
func (c *StreamConn) Send(data []byte) error {
	const op = "httpd: stream send"
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nanoact.Errorf(nanoact.CodeClosed, op, "stream closed")
	}
	if !c.started {
		c.started = true
		c.w.WriteHeader(c.status)
	}
	_ = c.rc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.w.Write(data)
	if err == nil {
		err = c.rc.Flush()
	}
	if err != nil {
		c.finish()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: op, Err: err}
	}
	return nil
}

// Close ends the stream: the terminal chunk is written and onClose runs
// on the request's goroutine. It returns at once. A second Close returns
// ErrClosed.
func (c *StreamConn) Close() error {
	if !c.finish() {
		return nanoact.Errorf(nanoact.CodeClosed, "httpd: stream close", "already closed")
	}
	return nil
}

func (c *StreamConn) finish() bool {
	first := false
	c.once.Do(func() {
		first = true
		close(c.done)
	})
	return first
}
