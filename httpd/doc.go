// Package httpd is an HTTP server on one port for REST endpoints,
// websockets, streaming responses and Server-Sent Events, and static
// content: nanonext's http_server, built on net/http and
// gorilla/websocket.
//
// # Entry points
//
//   - New(url, handlers, opts...) builds a Server for one http:// or
//     https:// URL; Start listens (port 0 binds a free port, which URL
//     reports); Shutdown(ctx) drains gracefully and Close stops at once.
//     Both return only after every goroutine the server started has
//     exited.
//   - Handlers, matched by path, method ("*" for any) and prefix as
//     nanonext's are (exact paths win over prefixes, the longest prefix
//     wins; 404 for an unknown path, 405 for an unserved method):
//     Handle (a function of the request: nanonext's handler), Async (the
//     same returning a promises.Promise), WS (websocket callbacks:
//     handler_ws), Stream (chunked responses and SSE: handler_stream, with
//     FormatSSE as format_sse), File, Directory, Inline and Redirect
//     (handler_file, handler_directory, handler_inline, handler_redirect),
//     and Mount for any http.Handler (a Prometheus /metrics handler, a
//     dashboard).
//   - Every handler is an http.Handler, and so is the Server: either can be
//     mounted on an existing Go server instead of Starting one.
//
// # Costs and goroutines
//
// A request costs what net/http's does plus the routing (a map lookup, or
// a scan of the prefixes for paths with none) and, for Handle, reading the
// body into one buffer: BenchmarkRoundTrip measures it against a bare
// net/http handler in the same run (figures in docs/benchmarks.md). A
// websocket connection costs its request goroutine, which reads and runs
// the callbacks, and one writer goroutine draining a bounded send queue
// and sending pings; an open stream costs its request goroutine, parked
// until the stream ends, which also writes the stream's broadcasts from a
// bounded queue. Nothing else runs in the background.
//
// # Bad input
//
// Malformed requests are answered by net/http (400, 431). Bodies beyond
// the limit (WithMaxBody, 1 MiB by default) are answered 413. A handler
// that panics, or returns an error, is answered 500 and logged at Error
// through the server's zap logger (zap.NewNop() by default); the server
// goes on. A websocket client that does not read fills its send queue
// (SendQueue) and is then disconnected; one that goes silent is found by
// the pings (PingInterval). A stream client that does not read is dropped
// the same way once its broadcast queue is full (StreamHandler.Dropped
// counts them): Broadcast never waits for a slow client. A client that disconnects mid-stream ends the
// stream: its on-close callback runs and its goroutine returns.
//
// # TLS
//
// HTTPS uses the same TLS configs as the sockets: WithTLS takes a
// sockets.NewTLSServer config, for instance over a certificate from
// sockets.WriteCert; client certificates are asked for as its auth mode
// says. The server speaks HTTP/1.1 only, as NNG's does, so that websockets
// work over TLS too.
//
// # Differences from nanonext
//
//   - Callbacks run on the request's goroutine rather than on R's main
//     thread: a handler may block (on an aio, a promise, a database) without
//     holding up other requests; state shared between handlers needs its
//     own locking.
//   - A websocket Send queues the message and returns; a client that does
//     not read is disconnected once its queue is full, rather than
//     buffering without bound.
//   - WSHandler and StreamHandler have Broadcast; nanonext leaves the
//     bookkeeping of connections to the callbacks.
//   - Handlers are checked when given to New or Handle (ErrInvalid,
//     ErrAddrInUse), not when made.
package httpd
