package aio

import (
	"sync"

	"github.com/nanoact/nanoact/sockets"
)

// Program order on stateful connections.
//
// NNG's nng_send_aio changes a req or rep context's state before it
// returns: a req registers its request (so that a receive started next
// finds it), a rep takes the backtrace of the request it answers (so that
// a receive started next cannot replace it). A send here that has to wait
// runs on its aio's goroutine, which may not have started when Send
// returns; left alone, a following Recv would see no request (ErrState) on
// a req, or take the next request's place on a rep and have the reply
// routed to the wrong requester.
//
// So on cooked req, rep and respondent sockets and contexts, aios keep
// program order behind a send still in flight: a later Recv or Send does
// not try at once and its goroutine waits for that send to resolve first
// (a Stop or time-out ends the wait). A later Send on a req cancels the
// earlier one, as a new request does in NNG. Surveyor sends never wait, and
// the other protocols have no such state.
//
// The sends in flight are kept in inflight, keyed by connection, from the
// moment such a send starts its goroutine until it resolves; nothing else
// is ever stored, and an idle program has an empty table. It is the one
// package-level table of this package, a stop-gap until package sockets
// offers a send that changes protocol state synchronously and queues the
// message asynchronously (see the package doc).
var inflight sync.Map // sockets.Conn → *core of a send aio

// order is what a connection's protocol needs.
type order struct {
	stateful bool // req, rep or respondent, cooked
	req      bool // a new send cancels the one in flight
}

func orderOf(con sockets.Conn) order {
	var p sockets.Protocol
	switch c := con.(type) {
	case *sockets.Socket:
		if c.Raw() {
			return order{}
		}
		p = c.Protocol()
	case *sockets.Context:
		p = c.Socket().Protocol()
	default:
		return order{}
	}
	switch p {
	case sockets.Req:
		return order{stateful: true, req: true}
	case sockets.Rep, sockets.Respondent:
		return order{stateful: true}
	}
	return order{}
}

// pending returns the send in flight on con, or nil.
func (o order) pending(con sockets.Conn) *core {
	if !o.stateful {
		return nil
	}
	v, ok := inflight.Load(con)
	if !ok {
		return nil
	}
	prev := v.(*core)
	if prev.resolved.Load() {
		return nil
	}
	return prev
}

// push records a, whose goroutine is about to start, as the send in flight
// on con, and returns the one it follows (nil if none). On a req the
// earlier send is cancelled.
func (o order) push(con sockets.Conn, a *core) (prev *core) {
	if !o.stateful {
		return nil
	}
	v, loaded := inflight.Swap(con, a)
	if !loaded {
		return nil
	}
	prev = v.(*core)
	if prev.resolved.Load() {
		return nil
	}
	if o.req {
		prev.cancel()
	}
	return prev
}

// pop forgets a once its operation is over, unless a later send has taken
// its place.
func (o order) pop(con sockets.Conn, a *core) {
	if o.stateful {
		inflight.CompareAndDelete(con, a)
	}
}
