package proto

import (
	"context"
	"encoding/binary"

	"go.nanomsg.org/mangos/v3"
)

// push: sends round-robin to whichever pipe is free; never receives.
type push struct {
	*engine
	noContexts
	sendOnly
}

func newPush(raw bool) *push {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoPush, Peer: mangos.ProtoPull, SelfName: "push", PeerName: "pull"}, raw, 0, false)
	return &push{engine: e}
}

func (s *push) Send(ctx context.Context, m *Message) error {
	if !s.raw {
		m.Header = m.Header[:0]
	}
	return s.put(ctx, m, "sockets: send")
}

// pull: receives from every pipe into one queue; never sends.
type pull struct {
	*engine
	noContexts
	recvOnly
}

func newPull(raw bool) *pull {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoPull, Peer: mangos.ProtoPush, SelfName: "pull", PeerName: "push"}, raw, -1, true)
	e.onRecv = func(p *pipe, m *Message) { p.deliver(m) }
	return &pull{engine: e}
}

func (s *pull) Recv(ctx context.Context) (*Message, error) {
	return s.get(ctx, s.recvq, nil, "sockets: recv")
}

// pair (v0): one peer at a time; a second connection is refused.
type pair struct {
	*engine
	noContexts
}

func newPair(raw bool) *pair {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoPair, Peer: mangos.ProtoPair, SelfName: "pair", PeerName: "pair"}, raw, 0, true)
	e.maxPipes = 1
	e.onRecv = func(p *pipe, m *Message) { p.deliver(m) }
	return &pair{engine: e}
}

func (s *pair) Send(ctx context.Context, m *Message) error {
	if !s.raw {
		m.Header = m.Header[:0]
	}
	return s.put(ctx, m, "sockets: send")
}

func (s *pair) Recv(ctx context.Context) (*Message, error) {
	return s.get(ctx, s.recvq, nil, "sockets: recv")
}

// poly: pair v1 in polyamorous mode. Messages carry a 4-byte hop count.
// A send with m.Pipe set (see SendTo) goes to that pipe only; otherwise to
// any free pipe.
type poly struct {
	*engine
	noContexts
}

func newPoly(raw bool) *poly {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoPair1, Peer: mangos.ProtoPair1, SelfName: "pair1", PeerName: "pair1"}, raw, 0, true)
	e.onRecv = func(p *pipe, m *Message) {
		hops, ok := takeWord(m)
		if !ok {
			e.dropped(DropBad)
			return
		}
		if hops >= defaultTTL {
			m.Free()
			e.dropped(DropBad)
			return
		}
		m.Header = putID(m.Header[:0], hops+1)
		if !e.raw {
			m.Header = m.Header[:0]
		}
		p.deliver(m)
	}
	return &poly{engine: e}
}

func (s *poly) Send(ctx context.Context, m *Message) error {
	if !s.raw || len(m.Header) != 4 {
		m.Header = append(m.Header[:0], 0, 0, 0, 0)
	}
	return s.put(ctx, m, "sockets: send")
}

// SendTo sends m to the pipe with the given id only; a pipe that is gone
// drops the message silently, as NNG's poly mode does.
func (s *poly) SendTo(ctx context.Context, id uint32, m *Message) error {
	if !s.raw || len(m.Header) != 4 {
		m.Header = append(m.Header[:0], 0, 0, 0, 0)
	}
	return s.sendTo(ctx, id, m, "sockets: send")
}

func (s *poly) Recv(ctx context.Context) (*Message, error) {
	return s.get(ctx, s.recvq, nil, "sockets: recv")
}

// DirectSender is implemented by protocols that can send to one pipe.
type DirectSender interface {
	SendTo(ctx context.Context, id uint32, m *Message) error
}

// bus: every message to every directly connected peer, best effort.
// In raw mode received messages carry the 4-byte id of their pipe in the
// header, and a send whose header holds a pipe id skips that pipe.
type bus struct {
	*engine
	noContexts
}

func newBus(raw bool) *bus {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoBus, Peer: mangos.ProtoBus, SelfName: "bus", PeerName: "bus"}, raw, -1, true)
	e.onRecv = func(p *pipe, m *Message) {
		if e.raw {
			m.Header = putID(m.Header[:0], p.id)
		}
		p.deliver(m)
	}
	return &bus{engine: e}
}

func (s *bus) Send(ctx context.Context, m *Message) error {
	if s.isClosed() {
		return errClosed
	}
	var except uint32
	if s.raw && len(m.Header) >= 4 {
		except = binary.BigEndian.Uint32(m.Header)
	}
	m.Header = m.Header[:0]
	s.broadcast(m, except, false)
	return nil
}

// SendTo sends m to one pipe only.
func (s *bus) SendTo(ctx context.Context, id uint32, m *Message) error {
	m.Header = m.Header[:0]
	return s.sendTo(ctx, id, m, "sockets: send")
}

func (s *bus) Recv(ctx context.Context) (*Message, error) {
	return s.get(ctx, s.recvq, nil, "sockets: recv")
}

// pub: broadcast to every subscriber; a subscriber whose queue is full
// loses its oldest queued message, as in NNG.
type pub struct {
	*engine
	noContexts
	sendOnly
}

func newPub(raw bool) *pub {
	e := newEngine(mangos.ProtocolInfo{Self: mangos.ProtoPub, Peer: mangos.ProtoSub, SelfName: "pub", PeerName: "sub"}, raw, -1, false)
	return &pub{engine: e}
}

func (s *pub) Send(ctx context.Context, m *Message) error {
	if s.isClosed() {
		return errClosed
	}
	m.Header = m.Header[:0]
	s.broadcast(m, 0, true)
	return nil
}

func (e *engine) isClosed() bool {
	select {
	case <-e.closeq:
		return true
	default:
		return false
	}
}
