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
// a 32 KiB receive buffer, and sends each message with one writev(2). The
// transport allocates nothing per message beyond the message itself, which
// comes from mangos' pool below 64 KiB. A listener runs one accept
// goroutine, plus one goroutine per connection while it handshakes.
//
// BenchmarkRoundTrip (pair0 echo, GOMAXPROCS 2 on a shared AMD EPYC VM,
// median of 10): 8 B takes about 17 µs over ipc and 29 µs over tcp
// loopback, with 0 allocations per round trip, where mangos' own
// transports take 23 µs and 32 µs with 10 and 8 allocations; 1 KiB is
// 17-27 µs against 21-32 µs; 64 KiB is at par or slightly behind (110 µs
// ipc, 220 µs tcp, against 99 µs and 194 µs), where copying dominates.
package transport
