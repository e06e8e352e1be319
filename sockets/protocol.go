package sockets

import (
	"strings"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/proto"
)

// Protocol is one of NNG's scalability protocols.
type Protocol int

// The protocols, with the peer each one talks to.
const (
	Bus        = Protocol(proto.Bus)        // bus ↔ bus: every message to every direct peer, best effort
	Pair       = Protocol(proto.Pair)       // pair ↔ pair (v0): one peer at a time
	Poly       = Protocol(proto.Poly)       // poly ↔ poly (pair v1 polyamorous): many peers, directed sends
	Push       = Protocol(proto.Push)       // push → pull: load-balanced pipeline
	Pull       = Protocol(proto.Pull)       // pull ← push
	Pub        = Protocol(proto.Pub)        // pub → sub: broadcast, drops for slow subscribers
	Sub        = Protocol(proto.Sub)        // sub ← pub: topic-filtered
	Req        = Protocol(proto.Req)        // req ↔ rep: request, then reply
	Rep        = Protocol(proto.Rep)        // rep ↔ req
	Surveyor   = Protocol(proto.Surveyor)   // surveyor ↔ respondent: survey with a deadline
	Respondent = Protocol(proto.Respondent) // respondent ↔ surveyor
)

// String returns the protocol's nanonext name ("req", "surveyor", ...).
func (p Protocol) String() string { return proto.ID(p).String() }

// Peer returns the protocol a socket of p talks to.
func (p Protocol) Peer() Protocol {
	switch p {
	case Push:
		return Pull
	case Pull:
		return Push
	case Pub:
		return Sub
	case Sub:
		return Pub
	case Req:
		return Rep
	case Rep:
		return Req
	case Surveyor:
		return Respondent
	case Respondent:
		return Surveyor
	}
	return p
}

// ParseProtocol parses a protocol name with nanonext's prefix rules: "b"
// is bus, "pa" pair, "po" poly, "pus" push, "pul" pull, "sur" surveyor,
// "res" respondent, and pub, sub, req and rep must be written in full. Any
// other string fails with ErrInvalid.
func ParseProtocol(name string) (Protocol, error) {
	n := strings.ToLower(name)
	type rule struct {
		full string
		min  int
		p    Protocol
	}
	rules := []rule{
		{"bus", 1, Bus}, {"pair", 2, Pair}, {"poly", 2, Poly}, {"push", 3, Push}, {"pull", 3, Pull},
		{"pub", 3, Pub}, {"sub", 3, Sub}, {"req", 3, Req}, {"rep", 3, Rep},
		{"surveyor", 3, Surveyor}, {"respondent", 3, Respondent},
	}
	for _, r := range rules {
		if len(n) >= r.min && len(n) <= len(r.full) && strings.HasPrefix(r.full, n) {
			return r.p, nil
		}
	}
	return 0, nanoact.Errorf(nanoact.CodeInvalid, "sockets: parse protocol",
		"'protocol' should be one of bus, pair, poly, push, pull, pub, sub, req, rep, surveyor, respondent (got %q)", name)
}

func (p Protocol) valid() bool { return p >= Bus && p <= Respondent }

func (p Protocol) canSend() bool { return p != Pull && p != Sub }

func (p Protocol) canRecv() bool { return p != Push && p != Pub }
