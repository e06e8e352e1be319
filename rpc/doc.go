// Package rpc is nanonext's request/reply RPC for nanoact.
//
// # Request and reply
//
// Reply answers one request on a rep socket or context with nanonext's
// error byte on failure; Request and Client call from req contexts; Server
// is a supervised rep service whose workers are actors restarted when a
// handler panics.
//
// The task runner (Dispatcher, daemons, Submit, Map) is package runner.
//
// # Tracing
//
// With an OpenTelemetry TracerProvider installed (otel.SetTracerProvider,
// or WithTracerProvider), Request records a client span "rpc.Request"
// (Call's context, or ParentSpan's, gives its parent) and Reply and
// Server a server span "rpc.Reply", its child, whose context the handler
// gets; a failed request or handler sets the span's status to Error. The
// W3C trace context travels in a Serial-mode request only: after the
// serial marker comes CBOR tag 0x6e617472 ("natr") around a two-element
// array, [carrier, value], where carrier is [traceparent] or
// [traceparent, tracestate] (text strings) and value is the codec's
// encoding, so that with the CBOR codec the payload is still one CBOR
// item. Receivers take the tag off whether or not they trace. Raw-mode
// messages, replies and every message of a program that installs no
// provider are left as they are, so C and R peers see nothing new: with
// otel's default global provider nothing is encoded and nothing is
// allocated (BenchmarkRPC's allocations are unchanged).
//
// # Option names
//
// One rule names options here, in package runner and in package aio:
//
//   - An option of a constructor (NewServer, NewDispatcher, NewDaemon,
//     StartDaemons, LaunchLocal, ...) is named WithX: WithWorkers,
//     WithListen, WithLogger, WithMaxFrame. Defaults are in its doc.
//   - An option of one call (a Request, Call, Send, Recv, Submit or Map)
//     is named for what it sets, as it reads at the call: Timeout,
//     SendMode, Signal, TaskTimeout, Requeue, Progress. The environment
//     options WithLogger and WithSystem keep their With wherever they
//     appear.
//   - The name says what it sets, not which type takes it: an option that
//     several constructors of a package share is one value of a shared
//     interface (runner.RunnerOption), named once.
//   - Each option is applied by its own apply method, and by nothing else
//     (no type switch that repeats it). Per-call options take and return
//     the config by value, so that it stays on the caller's stack.
//
// Package sockets follows it too: WithTLS (and every other With option)
// goes to New, and TLS is one value for a single Dial, Listen, DialStream
// or ListenStream. Its Dial and Listen, which New also takes, keep NNG's
// verbs as their names.
package rpc
