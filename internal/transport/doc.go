// Package transport holds nanoact's SP stream transports for mangos:
// tcp (also tcp4 and tcp6), ipc (also unix) and, on Linux, abstract unix
// sockets. They speak the same wire protocol as NNG and mangos (the 8-byte
// SP handshake, then 64-bit big-endian length-prefixed messages, with a
// 0x01 type byte before each length on ipc and abstract) and close the gaps
// between mangos' transports and NNG:
//
//   - the handshake has a deadline (OptionHandshakeTimeout, NNG's 10 s by
//     default), so a peer that connects and says nothing is dropped and
//     leaves no goroutine behind; a listener handshakes every connection
//     on its own goroutine, so one slow peer never holds up the others;
//   - a bad handshake or an oversized message is reported through an
//     Events hook instead of vanishing;
//   - the receive limit defaults to none, as in NNG (mangos' core still
//     passes its socket's limit down, and that value is honoured);
//   - URLs are checked as NNG checks them and failures are *nanoact.Error
//     values with NNG's codes (Rewrite);
//   - a tcp listener on port 0 reports the port it got;
//   - every goroutine has an owner: Listener.Close returns after its
//     goroutines exit, and a dialer stops when its OptionContext ends.
//
// # Wiring into mangos
//
// mangos finds transports by URL scheme in one process-wide registry.
// Register adds these transports under private schemes (nanoact.tcp://
// and so on), so that plain mangos code in the same process keeps mangos'
// tcp and ipc. Rewrite validates a user URL and maps tcp://, ipc:// and the
// others to the private schemes:
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
// A pipe has no goroutine of its own (mangos' protocols run the readers),
// a 32 KiB receive buffer, and sends each message with one writev(2) and
// no allocation. Messages come from mangos' pool. A listener runs one
// accept goroutine, plus one goroutine per connection while it handshakes.
// See the package benchmarks for round-trip figures against mangos' own
// tcp and ipc transports.
package transport
