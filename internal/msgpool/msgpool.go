// Package msgpool makes mangos messages from mangos' message cache
// whenever one fits.
//
// mangos.NewMessage(n) draws from its cache only when n is below a cache's
// size, so a body of exactly 64 KiB, NNG's usual large-message size, was
// allocated afresh every time, although Free returns such a message to
// the 64 KiB cache. New asks for one byte less in that case, which the
// 64 KiB cache serves with the same room.
package msgpool

import "go.nanomsg.org/mangos/v3"

// largest is the body size of mangos' largest message cache.
const largest = 64 << 10

// New returns a message with an empty Body and room for at least n bytes,
// from mangos' cache when n is at most 64 KiB. It never blocks.
func New(n int) *mangos.Message {
	if n == largest {
		n--
	}
	return mangos.NewMessage(n)
}
