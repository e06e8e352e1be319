// Package transport holds nanoact's SP transports for mangos: tcp (also
// tcp4 and tcp6), ipc (also unix), on Linux abstract unix sockets,
// tls+tcp, the websocket transports ws and wss (each also with 4 and 6
// variants), and inproc. tcp, ipc and abstract speak the same wire protocol as NNG and
// mangos (the 8-byte SP handshake, then 64-bit big-endian length-prefixed
// messages, with a 0x01 type byte before each length on ipc and
// abstract); tls+tcp is tcp inside a TLS session (crypto/tls, configured
// with mangos.OptionTLSConfig on both sides). ws and wss follow NNG's
// websocket mapping: an HTTP/1.1 Upgrade whose Sec-WebSocket-Protocol is
// "<protocol>.sp.nanomsg.org" (the dialer names the protocol it wants its
// peer to speak; the listener accepts only its own and echoes it), then
// one binary websocket message per SP message, header and body together,
// with no SP header exchange. inproc connects sockets of one process by a
// name bound process-wide, as in NNG: a message goes across by pointer,
// without a copy (see Costs). They close the gaps between mangos'
// transports and NNG:
//
//   - the handshake has a deadline (OptionHandshakeTimeout, NNG's 10 s by
//     default), so a peer that connects and says nothing is dropped and
//     leaves no goroutine behind; on tls+tcp it covers the TLS and SP
//     handshakes together, on ws and wss the TLS handshake and the HTTP
//     upgrade; a listener handshakes every connection on its own
//     goroutine, so one slow peer never holds up the others;
//   - a bad handshake (including a failed TLS handshake or a refused
//     upgrade) or an oversized message is reported through an Events
//     hook instead of vanishing, and nothing is ever written to a log:
//     the ws listeners answer HTTP themselves instead of running a
//     net/http Server, whose error log would print failed TLS handshakes;
//   - the receive limit defaults to 1 GiB, as in NNG 2.0 (NNG 1.x has
//     none; 0 still means none), and mangos' core passes its socket's
//     limit down, which is honoured; on ws and wss it is the websocket
//     read limit;
//   - a process-wide receive budget (SetRecvBudget) bounds the bytes held
//     in messages still arriving, and a body grows only as its bytes
//     arrive, so a peer that announces a huge length costs what it sent
//     and can never drive the process out of memory: a message over the
//     budget closes its pipe (LimitEvents.OnRecvBudget);
//   - optional limits against peers that hold resources: an idle
//     time-out (OptionIdleTimeout), a per-listener connection cap
//     (OptionMaxConns), and with mangos.OptionKeepAlive TCP keep-alive
//     probes plus, on ws and wss, websocket pings (SP has no keep-alive
//     frame of its own, so none is invented); LogRate bounds the log
//     lines a hook writes about rejected peers;
//   - URLs are checked as NNG checks them and failures are *nanoact.Error
//     values with NNG's codes (Rewrite); TLS failures are CodePeerAuth
//     when a certificate does not verify and CodeCrypto otherwise;
//   - tls+tcp and wss dialers verify the server as NNG (Mbed TLS) does:
//     the chain as crypto/tls would, the name against the subject
//     alternative names, or the Common Name when there are none
//     (VerifyLikeNNG), so nanonext's CN-only certificates verify;
//   - tcp, tls+tcp, ws and wss listeners on port 0 report the port they
//     got;
//   - several ws (or wss) listeners, of any sockets in the process, may
//     share one host:port with different URL paths, as in NNG: the first
//     binds the port, the others join it (wss listeners only when given
//     the same *tls.Config, since the TLS handshake comes before the
//     path), and the last to close frees it;
//   - every goroutine has an owner: Listener.Close returns after its
//     goroutines exit (also when connections arrive while it closes), and
//     a dialer stops when its OptionContext ends.
//
// # Wiring into mangos
//
// mangos finds transports by URL scheme in one process-wide registry.
// Register adds these transports under private schemes (nanoact.tcp://
// and so on), so that plain mangos code in the same process keeps mangos'
// own transports. Rewrite validates a user URL and maps tcp://, ipc://,
// ws://, inproc:// and the others to the private schemes:
//
//	transport.Register()
//	u, err := transport.Rewrite("tcp://127.0.0.1:5555")
//	if err != nil { ... }              // *nanoact.Error, e.g. CodeAddrInvalid
//	err = sock.DialOptions(u, map[string]any{
//		transport.OptionHandshakeTimeout: 2 * time.Second,
//		transport.OptionEvents:           hook,
//	})
//
// # Costs
//
// A tcp, ipc or abstract pipe has no goroutine of its own (mangos'
// protocols run the readers), a 32 KiB receive buffer, and sends each
// message with one writev(2), or several queued messages with one
// (BatchSender, which nanoact's protocol engine uses). On Linux the rest
// of a body longer than the buffer is read straight into the message
// with one readv(2) that also brings what follows it into the buffer, so
// a stream of 64 KiB messages costs one read each. On Linux on amd64 a
// tcp pipe sends a 63-256 KiB body that the kernel would copy at half
// speed (its destination 0-15 bytes past its source modulo 4 KiB, as a
// page-aligned body after a frame's length on an idle connection is)
// from a pooled staging copy instead: one ioctl and one copy in user
// space, a few µs for 64 KiB against the 30-45 µs of kernel time it saved
// where it was measured (see stage.go). The transport
// allocates nothing per message
// beyond the message itself, which comes from mangos' pool up to 64 KiB;
// a body longer than 32 KiB is allocated only once its first byte
// arrives, and one longer than 64 KiB starts at 64 KiB and doubles as it
// arrives (one copy per doubling), charged to the receive budget (an
// atomic add per buffer).
// A tls+tcp pipe adds crypto/tls's buffers and up to 16 KiB to gather a
// message into one TLS record. A ws or wss pipe has gorilla/websocket's
// 4 KiB read and write buffers and an 8 KiB scratch buffer: a message
// that fits is copied once into a pooled message of its size. A listener
// runs one accept goroutine (one per port for ws listeners sharing it),
// plus one goroutine per connection while it handshakes.
//
// An inproc pipe has no goroutine and no buffer, and neither has its
// listener: Send blocks until the peer's Recv takes the message, which
// changes hands by pointer (ownership moves with it). The receiver copies
// only a shared (Clone'd) message, and one whose Header it must fold back
// into Body: any Header but the 4-byte first word of a pipe with
// OptionSplitWord. Receive limits are not enforced on inproc, as in NNG.
//
// BenchmarkRoundTrip (pair0 echo, GOMAXPROCS 2 on a shared AMD EPYC VM,
// median of 10): 8 B takes about 17 µs over ipc and 29 µs over tcp
// loopback, with 0 allocations per round trip, where mangos' own
// transports take 23 µs and 32 µs with 10 and 8 allocations; 1 KiB is
// 17-27 µs against 21-32 µs; 64 KiB is at par or slightly behind (110 µs
// ipc, 220 µs tcp, against 99 µs and 194 µs), where copying dominates.
package transport
