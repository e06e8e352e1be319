// Package nanoact is nanonext for Go: NNG's scalability-protocol sockets,
// asynchronous I/O, condition variables and RPC, built as an actor-model
// framework on go.nanomsg.org/mangos/v3 and github.com/asynkron/protoactor-go.
//
// This root package holds what every layer shares: the Error type carrying
// NNG's error codes ("5 | Timed out") with sentinels matched by errors.Is,
// and ConvertError for typed receives. The messaging API lives in the
// sockets package; the actor runtime in actor.
package nanoact
