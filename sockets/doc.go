// Package sockets provides NNG sockets for the scalability protocols (bus,
// pair, poly (pair v1 polyamorous), push, pull, pub, sub, req, rep,
// surveyor, respondent)
// and their raw variants, with dialers and listeners over inproc, ipc,
// unix, abstract (Linux), tcp, ws, and over TLS tls+tcp and wss
// transports. It speaks NNG's wire
// protocol, so its peers may be C NNG (nngcat), pynng, nanonext in R or
// mangos programs.
//
// # Architecture
//
// Each Socket is an actor: dial, listen, start, close and connection
// events go through its mailbox one at a time (a panic there is a bug: it
// comes back as ErrInternal, is logged, and the socket stays usable;
// WatchPipes callbacks run off the mailbox). Sends and receives do not:
// they go straight to the socket's protocol engine, so many goroutines may
// send and receive on one socket at once. Each connection (pipe) costs two
// goroutines, one reading and one writing; an idle socket costs none.
//
// A Context is not an actor. Its state machine is the protocol's own
// (internal/proto), guarded by the protocol's lock, and its operations
// call it directly, as the socket's Send and Recv do; the socket
// supervises it without an actor: it keeps its open contexts, closes them
// when it closes, and raises its Supervise signals when one closes. This
// was decided by measurement (BenchmarkContext, 2 shared cores): a child
// actor per context made open and close cost 12-16 µs and 37 allocations
// instead of 2.5-3.5 µs and 8, and 1,000 contexts 30-44 ms instead of
// 9-16 ms; running a control operation (Subscribe) through a
// mailbox would cost 1.0-1.8 µs and 5 allocations instead of 40-80 ns and
// 1. A mailbox would serialise nothing that the protocol's lock does not
// already.
//
// # Blocking
//
// nanonext's block argument maps onto the context passed to Send and Recv,
// once for the whole package:
//
//   - block = NULL / FALSE (nanonext's default): pass NonBlock(ctx). The
//     operation completes only if it can at once, otherwise it fails with
//     ErrTryAgain (8).
//   - block = TRUE: pass a context without deadline. The operation blocks
//     until it completes, the context is cancelled (ErrCanceled, wrapping
//     context.Canceled) or the socket closes (ErrClosed).
//   - block = n ms: pass a context with a deadline. The operation fails
//     with ErrTimedOut (5) when it passes; the error also matches
//     context.DeadlineExceeded.
//
// A Sync dial (nanonext's autostart = NA), through Socket.Dial or New's
// Dial option, blocks for one connection attempt and its handshake; the
// EndpointOption StartContext(ctx) bounds it by a context the same way.
//
// # Without a goroutine
//
// RecvAsync starts a receive that waits in the protocol's queue and is
// completed by a callback (a Receiver) on the goroutine that delivers the
// message, NNG's nng_recv_aio; StageSend makes a send's protocol-state
// change at once and leaves the queueing to a function, NNG's
// nng_send_aio split in two. Package aio builds its aios on both; most
// programs use aio.
//
// # Connections, statistics and logs
//
// Each connection is a Pipe (Socket.Pipe, Socket.PipeIDs, the id of
// Msg.Pipe and PipeEvent.Pipe): its peer's address, its ipc peer
// credentials and its own statistics. WithPipeVeto judges each new one
// before the protocol sees it (NNG's pre-add pipe event). Sockets,
// dialers, listeners and pipes give NNG's statistics by name, numbers
// through Stat and strings through StatString (stats.go lists them all,
// the drop counters by cause included). The socket logs each connection's
// arrival and departure, each refused peer and each oversize message once,
// with the peer's address; WithLogger takes a zap logger, WithSlog a
// *slog.Logger.
//
// # Modes
//
// Send encodes in Serial mode (the socket's Codec, CBOR by default;
// Hooks and RegisterHook, nanonext's serial_config, write chosen Go types
// with functions of one's own) or Raw mode (bytes; strings with one
// trailing NUL; numeric slices as little-endian values, so numpy and R
// peers read them). Receives decode by
// Go type (RecvAs, Decode) or by nanonext mode name (RecvMode, DecodeMode).
// WithSendMode sets a socket's default send mode (Raw for a pub whose
// subscribers filter by topic). ParseSendMode and ParseRecvMode read mode
// names by nanonext's rules for each direction ("s" is serial for a send,
// ambiguous for a receive).
//
// Every serial payload starts with a 3-byte marker, CBOR's self-describe
// tag (d9 d9 f7), as nanonext's serial payloads start with a header: a
// serial receive refuses a payload without it (a raw message, nanonext's
// one-byte error reply) with a *nanoact.ConvertError holding the bytes,
// rather than decoding it by chance. The marker also means a serial payload
// never matches a sub's topic. Decoding is bounded (DecodeLimits), so a
// small payload cannot make the receiver allocate without bound. Character
// mode returns exactly the strings sent, empty ones included (nanonext
// 1.10).
package sockets

import (
	"context"

	"github.com/nanoact/nanoact/internal/proto"
)

// NonBlock returns a context, derived from parent, under which a Send or
// Recv does not wait: it fails with ErrTryAgain if it cannot complete at
// once (nanonext's block = FALSE, the default there). It costs one small
// allocation; keep and reuse the result.
func NonBlock(parent context.Context) context.Context { return proto.NonBlock(parent) }

type noTimeoutKey struct{}

// WithoutTimeout returns a context, derived from parent, under which a
// blocking Send or Recv ignores the socket's or context's send-timeout and
// recv-timeout options and waits as long as parent allows (aio's negative
// time-out: wait forever).
func WithoutTimeout(parent context.Context) context.Context {
	return context.WithValue(parent, noTimeoutKey{}, true)
}
