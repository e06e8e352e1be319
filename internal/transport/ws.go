package transport

// The ws and wss transports speak NNG's websocket mapping of SP (the same
// as mangos'): the dialer opens a websocket with an HTTP/1.1 Upgrade whose
// Sec-WebSocket-Protocol names the protocol it wants its peer to speak,
// "<peer>.sp.nanomsg.org"; the listener accepts only its own protocol
// name, answers 400 otherwise, and echoes the name; the dialer checks the
// echo. There is no 8-byte SP header: each SP message (header and body)
// is one binary websocket message. Several ws listeners may share one
// host:port with different paths, as in NNG (see wsHost).
//
// Listeners do not use net/http's Server. A host runs our accept loop,
// reads the request with http.ReadRequest and lets gorilla's Upgrader
// answer it over the raw connection, so that nothing is ever logged, the
// whole upgrade runs under the handshake deadline, and Close waits for
// every goroutine that served a connection.
//
// The same hosts and upgrade serve plain websocket byte streams
// (sockets.ListenStream): a WSStreamListener is a ws listener in stream
// mode, which asks for no subprotocol and hands over the websocket itself
// instead of an SP pipe (ws_stream.go).

const (
	// wsBufSize is the read and write buffer of a websocket connection;
	// gorilla reuses the ones the upgrade was read with.
	wsBufSize = 4 << 10

	// wsScratch is the per-pipe buffer a message is first read into: one
	// that ends within it is copied into a pooled message of its exact
	// size. It is allocated on the pipe's first receive.
	wsScratch = 8 << 10

	// maxRequestHead bounds the upgrade request line and headers.
	maxRequestHead = 64 << 10

	// spSubprotocol follows the protocol name in Sec-WebSocket-Protocol.
	spSubprotocol = ".sp.nanomsg.org"
)
