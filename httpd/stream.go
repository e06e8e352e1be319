package httpd

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// StreamHandler serves long-lived streaming responses (chunked transfer
// encoding): Server-Sent Events, NDJSON and the like (nanonext's
// handler_stream). It is an http.Handler, safe for concurrent use. Each
// open stream holds its request goroutine, which waits (no polling) until
// the stream is closed, the client goes away or the server shuts down,
// and is the stream's writer for Broadcast: each stream has a bounded
// queue (SendQueue) that Broadcast fills without waiting for any client.
// Send is written by the sender's goroutine.
//
// A StreamHandler serves one Server, whose Shutdown and Close end its
// streams; served on its own, Close it to end them.
type StreamHandler struct {
	base
	onRequest func(c *StreamConn, req *Request)
	onClose   func(c *StreamConn)
	hub       *hub[*StreamConn]
	dropped   atomic.Int64 // streams closed by Broadcast, their queue full
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

// Conns returns the number of open streams. A stream stops counting once
// it has closed, before its onClose runs.
func (h *StreamHandler) Conns() int { return h.hub.count() }

// Broadcast queues data for every open stream and returns for how many it
// was queued; each stream's own goroutine writes it (a chunk, flushed),
// in the order of the calls. It does not block on any client, so a slow
// one never delays the others: a stream whose queue is full (SendQueue
// broadcasts waiting: its client is not reading) is closed instead,
// counted (Dropped) and logged at Warn, and that client must reconnect
// (an EventSource does, with Last-Event-ID). data is copied once, shared
// by the queues: the caller may reuse it. It costs a pass over the open
// streams and that copy.
func (h *StreamHandler) Broadcast(data []byte) int {
	shared := append([]byte(nil), data...)
	n := 0
	for _, c := range h.hub.snapshot() {
		switch c.enqueue(shared) {
		case nil:
			n++
		case errStreamQueueFull:
			h.dropped.Add(1)
			h.env().log.Warn("httpd: stream client not reading; closing", zap.Uint64("conn", c.id),
				zap.String("path", h.cfg.pattern.Path), zap.Int("queue", h.cfg.sendQueue))
		}
	}
	return n
}

// Dropped returns how many streams Broadcast has closed because their
// queue was full (one atomic load).
func (h *StreamHandler) Dropped() int64 { return h.dropped.Load() }

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
		qmax:    h.cfg.sendQueue,
		wake:    make(chan struct{}, 1),
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
		c.closed = true // nothing more after the failure
		c.mu.Unlock()
		c.finish()
	}
	// This goroutine writes the stream's broadcasts until it ends.
	for open := true; open; {
		select {
		case <-c.wake:
			c.mu.Lock()
			_ = c.writeQueued()
			c.mu.Unlock()
		case <-c.done:
			open = false
		case <-r.Context().Done():
			open = false
		case <-h.hub.end:
			open = false
		}
	}
	c.mu.Lock()
	gone := r.Context().Err() != nil || c.dropped.Load()
	if !gone {
		_ = c.writeQueued() // what was broadcast before the close, then the end
	}
	c.closed = true
	if !c.started && !gone {
		c.started = true
		w.WriteHeader(c.status)
	}
	c.dmu.Lock()
	c.ended = true
	if c.dropped.Load() {
		// Its client does not read: the response's end must not wait.
		_ = c.rc.SetWriteDeadline(time.Now())
	} else {
		_ = c.rc.SetWriteDeadline(time.Time{})
	}
	c.dmu.Unlock()
	c.mu.Unlock()
	c.finish()
	h.hub.leave(c.id) // closed: no longer counted, before onClose runs
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

	qmu     sync.Mutex    // guards q; never held while writing
	q       [][]byte      // broadcasts waiting for the writer, at most qmax
	qmax    int           // SendQueue
	wake    chan struct{} // one token: q has data for the writer
	dropped atomic.Bool   // closed by Broadcast, its queue full
	dmu     sync.Mutex    // guards ended, for Broadcast's deadline cut
	ended   bool          // ServeHTTP is returning: rc must not be used

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
// Send writes the status and headers first. Broadcasts queued for this
// stream are written before it, so the stream keeps the order of the
// calls. It blocks until the data is handed to the connection, at most
// the write timeout (WriteTimeout) per write. It fails with ErrClosed
// once the stream has ended; a failed write closes the stream and
// returns an ErrClosed-coded error wrapping the cause. data is not kept.
func (c *StreamConn) Send(data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writeQueued(); err != nil {
		return err
	}
	return c.write(data, true)
}

// write writes data as one chunk (flushed if flush); c.mu is held.
func (c *StreamConn) write(data []byte, flush bool) error {
	const op = "httpd: stream send"
	if c.closed {
		return nanoact.Errorf(nanoact.CodeClosed, op, "stream closed")
	}
	if !c.started {
		c.started = true
		c.w.WriteHeader(c.status)
	}
	// Under dmu, so that Broadcast's cut of a dropped stream's deadline
	// is never undone here.
	c.dmu.Lock()
	dropped := c.dropped.Load()
	if !dropped {
		_ = c.rc.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	c.dmu.Unlock()
	if dropped {
		return nanoact.Errorf(nanoact.CodeClosed, op, "stream closed: its queue was full")
	}
	_, err := c.w.Write(data)
	if err == nil && flush {
		err = c.rc.Flush()
	}
	if err != nil {
		c.closed = true // its connection has failed: write no more
		c.finish()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: op, Err: err}
	}
	return nil
}

// writeQueued writes the broadcasts queued so far, flushing after the
// last; c.mu is held. It stops at the first failed write (the stream
// then closes).
func (c *StreamConn) writeQueued() error {
	c.qmu.Lock()
	batch := c.q
	c.q = nil
	c.qmu.Unlock()
	for i, data := range batch {
		if err := c.write(data, i == len(batch)-1); err != nil {
			return err
		}
	}
	return nil
}

var errStreamQueueFull = errors.New("stream queue full (the client is not reading): stream closed")

// enqueue queues data (shared, not modified) for the stream's writer:
// ErrClosed once the stream is closing, errStreamQueueFull when qmax
// broadcasts wait already (the stream is then closed). It never blocks
// on the client.
func (c *StreamConn) enqueue(data []byte) error {
	select {
	case <-c.done:
		return nanoact.Errorf(nanoact.CodeClosed, "httpd: stream broadcast", "stream closed")
	default:
	}
	c.qmu.Lock()
	full := len(c.q) >= c.qmax
	if !full {
		c.q = append(c.q, data)
	}
	c.qmu.Unlock()
	if full {
		if !c.dropped.CompareAndSwap(false, true) || !c.finish() {
			return nanoact.Errorf(nanoact.CodeClosed, "httpd: stream broadcast", "stream closed")
		}
		// Cut short a write blocked on this client (net.Conn deadlines
		// may be set from any goroutine), while its request is served.
		c.dmu.Lock()
		if !c.ended {
			_ = c.rc.SetWriteDeadline(time.Now())
		}
		c.dmu.Unlock()
		return errStreamQueueFull
	}
	select {
	case c.wake <- struct{}{}:
	default: // the writer has a token already
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
