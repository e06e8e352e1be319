package httpd

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

const (
	// DefaultSendQueue is the default length of a websocket connection's
	// send queue (SendQueue).
	DefaultSendQueue = 64
	// DefaultPingInterval is the default interval between websocket pings
	// (PingInterval).
	DefaultPingInterval = 30 * time.Second
	// DefaultWriteTimeout is the default bound on one websocket frame or
	// stream chunk write (WriteTimeout).
	DefaultWriteTimeout = 10 * time.Second
	// closeGrace bounds the wait for a client's reply to our close frame.
	closeGrace = time.Second
)

// TextFrames makes a WS handler send text frames by default (WSConn.Send),
// as nanonext's textframes = TRUE; otherwise it sends binary frames.
// Received messages are passed on whatever their frame type. Other
// handlers ignore it.
func TextFrames() HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) { c.text = true })
}

// SendQueue sets how many messages may wait to be written to one websocket
// connection, or how many broadcasts to one stream (StreamHandler's
// Broadcast), default DefaultSendQueue. When a send finds the queue full,
// the client is not reading fast enough: the connection is closed, and
// the send fails with ErrClosed. Values below 1 are invalid. Applies to WS
// and Stream handlers; it takes effect for connections opened later.
func SendQueue(n int) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if n < 1 {
			c.fail("send queue %d is below 1", n)
			return
		}
		c.sendQueue = n
	})
}

// PingInterval sets how often a WS handler pings each idle connection, so
// that proxies do not cut it and dead peers are found (default
// DefaultPingInterval). A connection that sends nothing, not even a pong,
// for two intervals is closed. Zero turns pings and that check off;
// negative values are invalid. Applies to WS handlers.
func PingInterval(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if d < 0 {
			c.fail("negative ping interval %v", d)
			return
		}
		c.pingInterval = d
	})
}

// WriteTimeout bounds each write of a websocket frame or stream chunk
// (default DefaultWriteTimeout); a client that does not take the data in
// time is disconnected. Zero or negative values are invalid. Applies to WS
// and Stream handlers.
func WriteTimeout(d time.Duration) HandlerOption {
	return handlerOptionFunc(func(c *handlerConfig) {
		if d <= 0 {
			c.fail("write timeout %v is not positive", d)
			return
		}
		c.writeTimeout = d
	})
}

// WSEvents are a WS handler's callbacks (nanonext's on_open, on_message
// and on_close). Each may be nil. For one connection they run one at a
// time, in order, on the goroutine reading that connection: Open before
// any Message, Close last and exactly once. A panic in Open or Message
// is logged at Error and closes that connection (code 1011); the server
// and other connections carry on.
type WSEvents struct {
	// Open is called when a connection has been upgraded; c.URI and
	// c.Header hold the upgrade request's URI and headers.
	Open func(c *WSConn)
	// Message is called for each message received, text or binary. data
	// belongs to the callee.
	Message func(c *WSConn, data []byte)
	// Close is called once the connection has closed, whoever closed it.
	// Sends fail with ErrClosed by then.
	Close func(c *WSConn)
}

// WSHandler serves websocket connections at a path (nanonext's
// handler_ws). It is an http.Handler, safe for concurrent use. Each
// connection costs its request goroutine (reading, and running the
// callbacks) plus one writer goroutine draining its send queue, and
// belongs to the handler until it closes.
//
// A WSHandler serves one Server; Server.Shutdown and Close end its
// connections. Served on its own (mounted on another Go server), Close it
// to end them, since net/http does not track upgraded connections.
type WSHandler struct {
	base
	ev  WSEvents
	up  websocket.Upgrader
	hub *hub[*WSConn]
}

// WS returns a handler for websocket connections to path (exact path; the
// upgrade request is a GET). Browsers' cross-origin upgrades are refused
// (403): the Origin header's host must equal the request's Host, as
// gorilla/websocket checks by default. Incoming messages are limited to the
// server's body limit (WithMaxBody); a larger one closes the connection
// with code 1009.
func WS(path string, ev WSEvents, opts ...HandlerOption) *WSHandler {
	h := &WSHandler{ev: ev, hub: newHub[*WSConn]()}
	cfg := newHandlerConfig(path, http.MethodGet, false, opts)
	cfg.pattern.Method = http.MethodGet
	h.init(cfg)
	return h
}

// Conns returns the number of open connections. A connection stops
// counting once it has closed, before its Close callback runs.
func (h *WSHandler) Conns() int { return h.hub.count() }

// Broadcast queues data for every open connection in the handler's frame
// type and returns to how many it was queued. It does not block; a
// connection whose queue is full is closed (see SendQueue). data is shared
// by all connections and must not be modified afterwards.
func (h *WSHandler) Broadcast(data []byte) int { return h.hub.broadcast(data) }

// Close ends every connection (the messages already queued, then close
// frame 1001, going away), refuses new ones with 503 and returns once
// their goroutines have returned: up to about a second for a client that
// does not answer the close frame, and up to the write timeout per queued
// message for one that does not read. A Server's Shutdown and Close do this for its handlers. A second
// Close returns ErrClosed.
func (h *WSHandler) Close() error {
	return h.hub.close("httpd: close ws handler "+h.cfg.pattern.Path, h.endConns)
}

func (h *WSHandler) endConns(abort bool) {
	abort = h.hub.stop(abort)
	for _, c := range h.hub.snapshot() {
		c.finish(websocket.CloseGoingAway, abort)
		if abort {
			c.kill()
		}
	}
}

func (h *WSHandler) waitConns() { h.hub.wg.Wait() }

// ServeHTTP upgrades the request and serves the connection until it
// closes; it returns once the connection's writer goroutine has exited.
func (h *WSHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := h.env()
	if h.cfg.err != nil {
		invalid(w, e, h.cfg.pattern, h.cfg.err)
		return
	}
	c := &WSConn{
		id:     e.ids.Add(1),
		uri:    r.RequestURI,
		header: r.Header,
		remote: r.RemoteAddr,
		h:      h,
		log:    e.log,
		q:      make(chan wsFrame, h.cfg.sendQueue),
		done:   make(chan struct{}),
		wdone:  make(chan struct{}),
	}
	if !h.hub.add(c.id, c) {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.hub.remove(c.id)
	ws, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the client (400, 403, …).
		e.log.Debug("httpd: websocket upgrade refused", zap.String("uri", r.RequestURI), zap.Error(err))
		return
	}
	c.ws = ws
	c.kmu.Lock()
	c.live = ws
	killed := c.killed
	c.kmu.Unlock()
	if killed {
		_ = ws.Close()
	}
	if e.maxBody >= 0 {
		ws.SetReadLimit(e.maxBody)
	}
	c.seen.Store(time.Now().UnixNano())
	go c.writer(h.cfg.pingInterval, h.cfg.writeTimeout)
	c.serve(h.cfg.pingInterval)
}

// wsFrame is one queued message.
type wsFrame struct {
	kind int // websocket.TextMessage or BinaryMessage
	data []byte
}

// WSConn is one websocket connection of a WS handler (nanonext's
// nanoWsConn). Its methods are safe for concurrent use from any goroutine,
// the callbacks included.
type WSConn struct {
	id     uint64
	uri    string
	header http.Header
	remote string
	h      *WSHandler
	log    *zap.Logger
	ws     *websocket.Conn
	q      chan wsFrame
	done   chan struct{} // closed once the connection is closing
	wdone  chan struct{} // closed when the writer has exited
	once   sync.Once
	kmu    sync.Mutex      // guards live and killed
	live   *websocket.Conn // ws once upgraded, for kill
	killed bool
	seen   atomic.Int64 // when the client last sent anything (unix ns), for the ping check
	code   int          // close code, written before done closes
	abort  bool         // close without a close handshake; written before done closes
}

// ID returns the connection's identifier, unique among all websocket and
// stream connections of a Server (nanonext's ws$id).
func (c *WSConn) ID() uint64 { return c.id }

// URI returns the request URI of the upgrade request (path and query).
func (c *WSConn) URI() string { return c.uri }

// Header returns the upgrade request's headers. Do not modify them.
func (c *WSConn) Header() http.Header { return c.header }

// RemoteAddr returns the client's network address, "host:port".
func (c *WSConn) RemoteAddr() string { return c.remote }

// Done returns a channel closed once the connection is closing.
func (c *WSConn) Done() <-chan struct{} { return c.done }

// Send queues data for the client as one message in the handler's frame
// type (binary, or text with TextFrames) and returns without waiting for
// the write. It takes ownership of data: do not modify it afterwards. It
// fails with ErrClosed once the connection is closing, and when the queue
// is full (a client that does not read): then it closes the connection
// (code 1008, policy violation, sent if the socket takes it).
func (c *WSConn) Send(data []byte) error {
	kind := websocket.BinaryMessage
	if c.h.cfg.text {
		kind = websocket.TextMessage
	}
	return c.send(wsFrame{kind, data})
}

// SendText queues s as a text message, as Send does.
func (c *WSConn) SendText(s string) error {
	return c.send(wsFrame{websocket.TextMessage, []byte(s)})
}

// SendBinary queues data as a binary message, as Send does.
func (c *WSConn) SendBinary(data []byte) error {
	return c.send(wsFrame{websocket.BinaryMessage, data})
}

var errQueueFull = errors.New("send queue full (the client is not reading): connection closed")

func (c *WSConn) send(f wsFrame) error {
	select {
	case <-c.done:
		return nanoact.Errorf(nanoact.CodeClosed, "httpd: ws send", "connection closed")
	default:
	}
	select {
	case c.q <- f:
		return nil
	default:
	}
	c.log.Warn("httpd: websocket client not reading; closing", zap.Uint64("conn", c.id), zap.String("uri", c.uri))
	c.finish(websocket.ClosePolicyViolation, true)
	return &nanoact.Error{Code: nanoact.CodeClosed, Op: "httpd: ws send", Err: errQueueFull}
}

// Close closes the connection with code 1000 (normal closure) after the
// messages already queued are written, and returns at once; the Close
// callback runs on the connection's goroutine. A second
// Close returns ErrClosed.
func (c *WSConn) Close() error {
	if !c.finish(websocket.CloseNormalClosure, false) {
		return nanoact.Errorf(nanoact.CodeClosed, "httpd: ws close", "already closed")
	}
	return nil
}

// kill closes the network connection at once, from any goroutine, so
// that a writer blocked on a client that does not read returns now rather
// than at its write deadline (Server.Close, or a Shutdown past its ctx).
func (c *WSConn) kill() {
	c.kmu.Lock()
	defer c.kmu.Unlock()
	c.killed = true
	if c.live != nil {
		_ = c.live.Close()
	}
}

// finish starts closing with code; abort skips the close handshake. It
// reports whether this call started it.
func (c *WSConn) finish(code int, abort bool) bool {
	first := false
	c.once.Do(func() {
		first = true
		c.code, c.abort = code, abort
		close(c.done)
	})
	return first
}

// writer drains the send queue and pings; at each ping it closes a
// connection silent for two intervals (the reader only timestamps what
// arrives, so no read deadline is reset per message). On close it writes
// the close frame and cuts the reader's wait short. It owns every data
// write.
func (c *WSConn) writer(ping, timeout time.Duration) {
	defer close(c.wdone)
	var tick <-chan time.Time
	if ping > 0 {
		t := time.NewTicker(ping)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case f := <-c.q:
			_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
			if err := c.ws.WriteMessage(f.kind, f.data); err != nil {
				c.log.Debug("httpd: websocket write failed", zap.Uint64("conn", c.id), zap.Error(err))
				c.finish(websocket.CloseAbnormalClosure, true)
			}
		case now := <-tick:
			if now.UnixNano()-c.seen.Load() > int64(2*ping) {
				c.log.Debug("httpd: websocket client silent; closing", zap.Uint64("conn", c.id))
				c.finish(websocket.CloseAbnormalClosure, true)
				continue
			}
			if err := c.ws.WriteControl(websocket.PingMessage, nil, now.Add(timeout)); err != nil {
				c.finish(websocket.CloseAbnormalClosure, true)
			}
		case <-c.done:
			grace := time.Now()
			if !c.abort {
				c.drain(timeout)
			}
			if !c.abort {
				msg := websocket.FormatCloseMessage(c.code, "")
				_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(timeout))
				grace = grace.Add(closeGrace)
			} else if c.code == websocket.ClosePolicyViolation {
				// Best effort: the client is not reading, so do not wait.
				msg := websocket.FormatCloseMessage(c.code, "send queue full")
				_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Millisecond))
			}
			// Wake the reader: with the client's close reply, or at the
			// deadline.
			_ = c.ws.SetReadDeadline(grace)
			return
		}
	}
}

// drain writes what is still queued when a graceful close begins, so that
// messages sent before Close reach the client before the close frame. It
// stops at the first failed write (a kill cuts a slow one short).
func (c *WSConn) drain(timeout time.Duration) {
	for {
		select {
		case f := <-c.q:
			_ = c.ws.SetWriteDeadline(time.Now().Add(timeout))
			if c.ws.WriteMessage(f.kind, f.data) != nil {
				return
			}
		default:
			return
		}
	}
}

// serve reads messages until the connection fails or closes, then tears
// it down and runs the Close callback.
func (c *WSConn) serve(ping time.Duration) {
	ev := c.h.ev
	if ping > 0 {
		c.ws.SetPongHandler(func(string) error {
			c.seen.Store(time.Now().UnixNano())
			return nil
		})
	}
	ok := true
	if ev.Open != nil {
		ok = guard(c.log, "httpd: websocket open callback", nil, func() { ev.Open(c) })
	}
	for ok {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if ce, isClose := errors.AsType[*websocket.CloseError](err); isClose {
				c.finish(ce.Code, false)
			} else {
				c.finish(websocket.CloseAbnormalClosure, true)
			}
			break
		}
		if ping > 0 {
			c.seen.Store(time.Now().UnixNano())
		}
		if ev.Message != nil {
			ok = guard(c.log, "httpd: websocket message callback", nil, func() { ev.Message(c, data) })
		}
	}
	if !ok {
		c.finish(websocket.CloseInternalServerErr, false)
		// Wait for the writer's close frame and the client's reply.
		for {
			if _, _, err := c.ws.NextReader(); err != nil {
				break
			}
		}
	}
	c.finish(websocket.CloseNormalClosure, true) // a no-op unless already closing
	_ = c.ws.Close()
	<-c.wdone
	c.h.hub.leave(c.id) // closed: no longer counted, before Close runs
	if ev.Close != nil {
		guard(c.log, "httpd: websocket close callback", nil, func() { ev.Close(c) })
	}
}
