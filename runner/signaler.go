package runner

import "github.com/nanoact/nanoact/rpc"

// Signaler is what a dispatcher tells when a daemon joins or leaves, dies
// or disconnects: an aio.CV, or anything with Signal. It is rpc.Signaler,
// so one CV can watch an RPC server and a dispatcher alike.
type Signaler = rpc.Signaler
