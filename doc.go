// Package nanoact is nanonext for Go: NNG's scalability-protocol sockets,
// asynchronous I/O, condition variables and RPC, built as an actor-model
// framework on go.nanomsg.org/mangos/v3 and github.com/asynkron/protoactor-go.
//
// This root package holds what every layer shares: the Error type carrying
// NNG's error codes ("5 | Timed out") with sentinels matched by errors.Is,
// and ConvertError for typed receives. The messaging API lives in the
// sockets package; the actor runtime in actor.
//
// # Error messages
//
// An Error reads "op: code | text: cause", as in
// "sockets: dial tcp://127.0.0.1:5555: 6 | Connection refused: connect:
// connection refused". The op starts with the name of the public package
// whose function the program called ("sockets:", "aio:", "rpc:",
// "ncurl:", "runner:"), then the operation and its address, so that an
// error points at a line of the caller's code: Socket.Dial's errors start
// "sockets: dial", even when the failure came from a transport inside.
// Where a failure comes from inside (a codec, a transport), that part is
// the cause and comes after the public op, never before it. Codes keep NNG's numbers and text; the op is said once, and a
// cause (an OS or codec error) follows it and stays reachable through
// errors.Unwrap, errors.Is and errors.As.
package nanoact
