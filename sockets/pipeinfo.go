package sockets

import (
	"fmt"
	"net"
	"slices"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

// Pipe is one connection of a socket, NNG's nng_pipe: its id (as carried
// by Msg.Pipe and PipeEvent.Pipe), the dialer or listener that made it,
// its addresses, its peer's credentials on ipc, and its statistics. Get
// one with Socket.Pipe, or in a pipe veto (WithPipeVeto).
//
// A Pipe is a handle: it stays valid after its connection closes, but
// then its statistics and addresses give ErrClosed. It is safe for
// concurrent use.
type Pipe struct {
	s  *Socket
	id uint32
	mp mangos.Pipe
}

// Pipe returns the live connection with id. It does not block and costs a
// map lookup. Errors: ErrNotFound when no such connection is live,
// ErrClosed on a closed socket.
func (s *Socket) Pipe(id uint32) (*Pipe, error) {
	if s.isClosed() {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: pipe"}
	}
	if mp, ok := s.pipes.lookup(id, s.eng).(mangos.Pipe); ok {
		if p := (&Pipe{s: s, id: id, mp: mp}); p.live() {
			return p, nil
		}
	}
	return nil, nanoact.Errorf(nanoact.CodeNotFound, "sockets: pipe", "no connection %d", id)
}

// PipeIDs returns the ids of the socket's live connections, sorted. It
// does not block; it costs one allocation.
func (s *Socket) PipeIDs() []uint32 {
	s.pipes.mu.Lock()
	ids := make([]uint32, 0, len(s.pipes.live))
	for id := range s.pipes.live {
		ids = append(ids, id)
	}
	s.pipes.mu.Unlock()
	slices.Sort(ids)
	return ids
}

// ID returns the connection's id.
func (p *Pipe) ID() uint32 { return p.id }

// Socket returns the connection's socket.
func (p *Pipe) Socket() *Socket { return p.s }

// Dialer returns the dialer that made the connection, or nil if a
// listener accepted it (or its dialer is gone).
func (p *Pipe) Dialer() *Dialer {
	d, _ := p.s.ownerOf(p.mp)
	return d
}

// Listener returns the listener that accepted the connection, or nil if a
// dialer made it (or its listener is gone).
func (p *Pipe) Listener() *Listener {
	_, l := p.s.ownerOf(p.mp)
	return l
}

// PeerAddr returns the remote address of live connection pipe, as
// Pipe.RemoteAddr writes it, or "" when it is gone or has none: a
// shorthand for log lines about a peer. It costs a lookup and an option
// read, and does not block.
func (s *Socket) PeerAddr(pipe uint32) string {
	p, err := s.Pipe(pipe)
	if err != nil {
		return ""
	}
	a, _ := p.RemoteAddr()
	return a
}

// live reports whether the connection is still up.
func (p *Pipe) live() bool {
	_, ok := p.s.eng.PipeCounters(p.id)
	return ok || p.s.vetoes.pending(p.id)
}

// addr reads the connection's local or remote address option.
func (p *Pipe) addr(opt, op string) (string, error) {
	if !p.live() {
		return "", &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	v, err := p.mp.GetOption(opt)
	a, ok := v.(net.Addr)
	if err != nil || !ok || a == nil {
		return "", &nanoact.Error{Code: nanoact.CodeNotSupported, Op: op}
	}
	return a.String(), nil
}

// RemoteAddr returns the peer's address as its transport writes it: host
// and port on tcp, tls+tcp, ws and wss ("127.0.0.1:40112"), the socket
// path on ipc (often "" or "@" for the dialing side, as the kernel gives
// it), the URL on inproc. It costs one option read and does not block.
// Errors: ErrClosed once the connection is gone.
func (p *Pipe) RemoteAddr() (string, error) {
	return p.addr(mangos.OptionRemoteAddr, "sockets: pipe remote address")
}

// LocalAddr returns the connection's own address, written as RemoteAddr
// writes the peer's. Errors: ErrClosed once the connection is gone.
func (p *Pipe) LocalAddr() (string, error) {
	return p.addr(mangos.OptionLocalAddr, "sockets: pipe local address")
}

// PeerCred is the identity of the process at the other end of an ipc (or
// unix, abstract) connection, as the kernel recorded it when the
// connection was made (SO_PEERCRED).
type PeerCred struct {
	PID, UID, GID int
}

// PeerCred returns the credentials of the peer process of an ipc, unix or
// abstract connection, NNG's ipc:peer-pid, ipc:peer-uid and ipc:peer-gid.
// It costs three getsockopt calls and does not block. Errors:
// ErrNotSupported on other transports and on systems without
// SO_PEERCRED, ErrClosed once the connection is gone.
func (p *Pipe) PeerCred() (PeerCred, error) {
	const op = "sockets: pipe peer credentials"
	if !p.live() {
		return PeerCred{}, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	var c PeerCred
	for _, f := range []struct {
		opt string
		to  *int
	}{{mangos.OptionPeerPID, &c.PID}, {mangos.OptionPeerUID, &c.UID}, {mangos.OptionPeerGID, &c.GID}} {
		v, err := p.mp.GetOption(f.opt)
		n, ok := v.(int)
		if err != nil || !ok {
			return PeerCred{}, &nanoact.Error{Code: nanoact.CodeNotSupported, Op: op, Err: err}
		}
		*f.to = n
	}
	return c, nil
}

// Close closes the connection, as Socket.ClosePipe. Errors: ErrNotFound
// when it is already gone.
func (p *Pipe) Close() error { return p.s.ClosePipe(p.id) }

// Stat returns one of the connection's numeric statistics by NNG name (see
// Stats); ErrNotFound for an unknown name, ErrBadType for a string
// statistic, ErrClosed once the connection is gone. A few atomic loads;
// it never blocks.
func (p *Pipe) Stat(name string) (int64, error) {
	m, err := p.stats()
	if err != nil {
		return 0, err
	}
	return statNum(m, p.StringStats(), name)
}

// Stats returns every numeric statistic of the connection, NNG's pipe
// statistics: id, socket, dialer and listener (the endpoint's id, 0 for
// the other kind), rx_msgs, rx_bytes, tx_msgs, tx_bytes (what this
// connection read and wrote, protocol headers included). Once the
// connection is gone it holds only the ids.
func (p *Pipe) Stats() map[string]int64 {
	m, err := p.stats()
	if err != nil {
		m = p.ids()
	}
	return m
}

func (p *Pipe) ids() map[string]int64 {
	m := map[string]int64{"id": int64(p.id), "socket": int64(p.s.id), "dialer": 0, "listener": 0}
	if d := p.Dialer(); d != nil {
		m["dialer"] = int64(d.id)
	}
	if l := p.Listener(); l != nil {
		m["listener"] = int64(l.id)
	}
	return m
}

func (p *Pipe) stats() (map[string]int64, error) {
	c, ok := p.s.eng.PipeCounters(p.id)
	if !ok && !p.s.vetoes.pending(p.id) {
		return nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: pipe stat"}
	}
	m := p.ids()
	m["rx_msgs"], m["rx_bytes"] = int64(c.RxMsgs), int64(c.RxBytes)
	m["tx_msgs"], m["tx_bytes"] = int64(c.TxMsgs), int64(c.TxBytes)
	return m, nil
}

// StatString returns one of the connection's string statistics by name
// (see StringStats); ErrNotFound for an unknown name, ErrBadType for a
// numeric one, ErrClosed once the connection is gone.
func (p *Pipe) StatString(name string) (string, error) {
	if !p.live() {
		return "", &nanoact.Error{Code: nanoact.CodeClosed, Op: "sockets: pipe stat " + name}
	}
	return statStr(p.Stats(), p.StringStats(), name)
}

// StringStats returns the connection's string statistics: url (of the
// dialer or listener that made it), remote_address and local_address (as
// RemoteAddr and LocalAddr; absent where the transport has none). Once
// the connection is gone it holds only url.
func (p *Pipe) StringStats() map[string]string {
	m := map[string]string{"url": ""}
	if d := p.Dialer(); d != nil {
		m["url"] = d.URL()
	} else if l := p.Listener(); l != nil {
		m["url"] = l.URL()
	}
	if a, err := p.RemoteAddr(); err == nil {
		m["remote_address"] = a
	}
	if a, err := p.LocalAddr(); err == nil {
		m["local_address"] = a
	}
	return m
}

// String describes the connection for logs: its id and peer address.
func (p *Pipe) String() string {
	a, _ := p.RemoteAddr()
	return fmt.Sprintf("pipe %d (%s)", p.id, a)
}
