package transport

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/msgpool"
	"go.nanomsg.org/mangos/v3"
)

const (
	// readBufSize is the per-pipe receive buffer. Small messages arrive
	// several to a read(2); a body at least this large is read straight
	// into the message.
	readBufSize = 32 << 10

	// firstChunk is the most a body is given before its bytes arrive: a
	// longer one starts with this much and doubles as it fills, each
	// growth charged to the receive budget, so a forged length commits at
	// most twice what the peer actually sent (and never more than the
	// budget). It is mangos' largest pooled size, so 64 KiB messages cost
	// no allocation.
	firstChunk = 64 << 10

	// maxBody caps any message, limit or not: a length that is not a
	// valid slice length is refused as oversize.
	maxBody = uint64(math.MaxInt)
)

// spHeader builds the 8-byte SP connection header: 0x00 'S' 'P' 0x00,
// the protocol number big-endian, two reserved zero bytes.
func spHeader(proto uint16) [8]byte {
	return [8]byte{0, 'S', 'P', 0, byte(proto >> 8), byte(proto), 0, 0}
}

// handshake exchanges SP headers on c by deadline and checks that the
// peer speaks want. It sends first, as NNG does, so two peers never wait
// on each other. The deadline is cleared on success; on failure the
// caller closes c. timeout, the handshake time-out the deadline was
// derived from, only goes into the error text.
func handshake(c net.Conn, info mangos.ProtocolInfo, deadline time.Time, timeout time.Duration, op string) error {
	if err := c.SetDeadline(deadline); err != nil {
		return wrapErr(op, err)
	}
	out := spHeader(info.Self)
	if _, err := c.Write(out[:]); err != nil {
		return handshakeErr(op, err, timeout)
	}
	var in [8]byte
	if _, err := io.ReadFull(c, in[:]); err != nil {
		return handshakeErr(op, err, timeout)
	}
	if in[0] != 0 || in[1] != 'S' || in[2] != 'P' || in[3] != 0 || in[6] != 0 || in[7] != 0 {
		return nanoact.Errorf(nanoact.CodeProtocol, op, "%s", describeHeader(in))
	}
	if peer := binary.BigEndian.Uint16(in[4:]); peer != info.Peer {
		return nanoact.Errorf(nanoact.CodeProtocol, op,
			"peer speaks %s, want %s", protocolName(peer), info.PeerName)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return wrapErr(op, err)
	}
	return nil
}

// protocolName names an SP protocol number as NNG does ("pull"), or says
// "protocol N" for a number no SP protocol uses.
func protocolName(n uint16) string {
	switch n {
	case mangos.ProtoPair:
		return "pair"
	case mangos.ProtoPair1:
		return "pair1"
	case mangos.ProtoPub:
		return "pub"
	case mangos.ProtoSub:
		return "sub"
	case mangos.ProtoReq:
		return "req"
	case mangos.ProtoRep:
		return "rep"
	case mangos.ProtoPush:
		return "push"
	case mangos.ProtoPull:
		return "pull"
	case mangos.ProtoSurveyor:
		return "surveyor"
	case mangos.ProtoRespondent:
		return "respondent"
	case mangos.ProtoBus:
		return "bus"
	}
	return fmt.Sprintf("protocol %d", n)
}

// describeHeader says what is wrong with 8 bytes that are not an SP
// header, in words a user can act on: the commonest cause is a peer that
// speaks another protocol altogether (HTTP, TLS, a websocket upgrade sent
// to a tcp listener).
func describeHeader(in [8]byte) string {
	switch {
	case in[0] == 0x16 && in[1] == 0x03:
		return "not an SP header: the peer began a TLS handshake (use tls+tcp:// on both sides)"
	case bytes.HasPrefix(in[:], []byte("GET ")) || bytes.HasPrefix(in[:], []byte("POST ")) || bytes.HasPrefix(in[:], []byte("HTTP/")):
		return fmt.Sprintf("not an SP header: the peer speaks HTTP (%q...; use ws:// for websocket peers)", strings.TrimRight(string(in[:]), "\r\n"))
	case in[0] != 0 || in[1] != 'S' || in[2] != 'P':
		return fmt.Sprintf("not an SP header: it must start 00 'S' 'P', and it starts % x", in[:3])
	case in[3] != 0:
		return fmt.Sprintf("SP header of version %d, want 0", in[3])
	}
	return fmt.Sprintf("SP header with reserved bytes % x set, want 00 00", in[6:])
}

func handshakeErr(op string, err error, timeout time.Duration) error {
	if codeOf(err) == nanoact.CodeTimedOut {
		return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: op,
			Err: fmt.Errorf("no handshake within %v: %w", timeout, err)}
	}
	if c, ok := tlsCode(err); ok {
		// On tls+tcp a peer may refuse our certificate only now: TLS 1.3
		// finishes the client's handshake before the server checks it.
		return &nanoact.Error{Code: c, Op: op, Err: err}
	}
	return wrapErr(op, err)
}

// pipe is an SP connection over a byte stream: mangos.TranPipe.
//
// Send and Recv may run concurrently with each other and with Close;
// concurrent Sends (or Recvs) are serialised by a mutex. Memory: one
// readBufSize buffer per pipe plus the messages themselves; over TLS also
// a send buffer of up to one TLS record (16 KiB); over tcp, while a send
// stages a body (stage.go), a pooled 68 KiB buffer (260 KiB for a body
// over 64 KiB). No goroutine of its own.
type pipe struct {
	c      net.Conn
	kind   kind
	ipc    bool // NNG/mangos ipc framing: a 0x01 byte before each length
	tls    *tls.Conn
	opt    options
	url    string // the endpoint's user URL, for events and errors
	closed atomic.Bool
	gate   gate // OptionRecvGate

	sendMu sync.Mutex
	shdr   [9]byte
	sbufs  [3][]byte
	nb     net.Buffers
	tbuf   []byte      // tls: a message's frame gathered for one record
	bhdr   []byte      // SendBatch: the frames' length prefixes
	bbufs  net.Buffers // SendBatch: the frames' pieces
	stage  stager      // tcp: sends an aliased body from a staging copy

	recvMu sync.Mutex
	br     *streamReader
	rhdr   [9]byte
	split  bool // received messages start with a word: see splitsWord

	onClose func() // set by a listener: gives back its connection slot
}

// idleReader reads from a connection with a fresh read deadline before
// every read, so that a pipe that receives nothing for d times out
// (OptionIdleTimeout). Setting a deadline is a runtime timer update, no
// system call.
type idleReader struct {
	c net.Conn
	d time.Duration
}

func (r idleReader) Read(b []byte) (int, error) {
	if err := r.c.SetReadDeadline(time.Now().Add(r.d)); err != nil {
		return 0, err
	}
	return r.c.Read(b)
}

// splitsWord reports whether a pipe delivers the first word of the
// messages it receives in their Header (see OptionSplitWord): when the
// option is set and protocol self's messages start with a 4-byte word
// (req, rep, surveyor, respondent and pair1).
func splitsWord(o options, self uint16) bool {
	if !o.split {
		return false
	}
	switch self {
	case mangos.ProtoReq, mangos.ProtoRep, mangos.ProtoSurveyor, mangos.ProtoRespondent, mangos.ProtoPair1:
		return true
	}
	return false
}

func newPipe(c net.Conn, k kind, opt options, url string, info mangos.ProtocolInfo) *pipe {
	p := &pipe{
		c:     c,
		kind:  k,
		ipc:   k != kindTCP,
		opt:   opt,
		url:   url,
		split: splitsWord(opt, info.Self),
	}
	var r io.Reader = c
	if opt.idle > 0 {
		r = idleReader{c, opt.idle}
	}
	p.br = newStreamReader(r, c, opt.idle, readBufSize)
	if p.ipc {
		p.shdr[0] = 1
	}
	p.tls, _ = c.(*tls.Conn)
	p.stage.q = newOutQueue(c)
	return p
}

// Send writes m as one frame: its 8-byte big-endian length (after a 0x01
// byte on ipc), then m.Header and m.Body, in a single vectored write. It
// blocks until the kernel has taken the whole frame. On success it takes
// ownership of m and frees it; on error m stays the caller's and the
// connection must be closed (mangos' core does).
func (p *pipe) Send(m *mangos.Message) error {
	p.sendMu.Lock()
	n := 8
	if p.ipc {
		n = 9
	}
	binary.BigEndian.PutUint64(p.shdr[n-8:n], uint64(len(m.Header))+uint64(len(m.Body)))
	var err error
	if p.tls != nil {
		err = p.sendTLS(p.shdr[:n], m)
	} else {
		p.sbufs = [3][]byte{p.shdr[:n], m.Header, p.stage.body(n+len(m.Header), m.Body)}
		p.nb = p.sbufs[:]
		_, err = p.nb.WriteTo(p.c)
		p.sbufs = [3][]byte{} // keep no reference to m
		p.nb = nil
		p.stage.release()
	}
	p.sendMu.Unlock()
	if err != nil {
		return p.ioErr("send", err)
	}
	m.Free()
	return nil
}

// BatchSender is what a pipe that can write several messages at once
// offers through GetOption(OptionBatchSender): the tcp, ipc and abstract
// pipes (not tls+tcp, ws, wss or inproc).
type BatchSender interface {
	// SendBatch writes ms as consecutive frames, as Send writes one, in
	// one vectored write (writev(2) of every frame's length, header and
	// body: the bodies are not copied, but for the first one that a tcp
	// pipe may stage as Send does, see stage.go). It blocks until the kernel has
	// taken them all. On success it frees every message; on error none
	// is freed, an unknown number may have been written, and the
	// connection must be closed. It must not run concurrently with Send.
	SendBatch(ms []*mangos.Message) error
}

// SendBatch implements BatchSender.
func (p *pipe) SendBatch(ms []*mangos.Message) error {
	p.sendMu.Lock()
	n := 8
	if p.ipc {
		n = 9
	}
	if cap(p.bhdr) < n*len(ms) {
		p.bhdr = make([]byte, n*len(ms))
	}
	hdr := p.bhdr[:n*len(ms)]
	bufs := p.bbufs[:0]
	for i, m := range ms {
		h := hdr[i*n : (i+1)*n]
		if p.ipc {
			h[0] = 1
		}
		binary.BigEndian.PutUint64(h[n-8:], uint64(len(m.Header))+uint64(len(m.Body)))
		bufs = append(bufs, h)
		if len(m.Header) > 0 {
			bufs = append(bufs, m.Header)
		}
		if len(m.Body) > 0 {
			b := m.Body
			if i == 0 {
				b = p.stage.body(n+len(m.Header), b)
			}
			bufs = append(bufs, b)
		}
	}
	p.nb = bufs // WriteTo consumes p.nb; a field, so that it does not escape
	_, err := p.nb.WriteTo(p.c)
	p.nb = nil
	p.stage.release()
	clear(bufs) // keep no reference to the messages
	p.bbufs = bufs[:0]
	p.sendMu.Unlock()
	if err != nil {
		return p.ioErr("send", err)
	}
	for _, m := range ms {
		m.Free()
	}
	return nil
}

// tlsRecord is the most plaintext one TLS record carries.
const tlsRecord = 16 << 10

// sendTLS writes a frame over TLS, where every Write makes at least one
// record: a frame that fits one record is gathered into tbuf and written
// once; a longer one goes as its length and header, then its body.
func (p *pipe) sendTLS(hdr []byte, m *mangos.Message) error {
	n := len(hdr) + len(m.Header)
	if n+len(m.Body) > tlsRecord {
		b := append(append(p.tbuf[:0], hdr...), m.Header...)
		p.tbuf = b[:0]
		if _, err := p.c.Write(b); err != nil {
			return err
		}
		_, err := p.c.Write(m.Body)
		return err
	}
	b := append(append(append(p.tbuf[:0], hdr...), m.Header...), m.Body...)
	p.tbuf = b[:0]
	_, err := p.c.Write(b)
	return err
}

// Recv reads one frame and returns it as a message whose Body holds the
// whole payload (protocols split their headers off). It blocks until a
// frame arrives or the connection fails. A frame longer than the pipe's
// limit is not read: Recv reports it to Events.OnOversize and returns an
// error with CodeMsgSize, after which the pipe must be closed.
func (p *pipe) Recv() (*mangos.Message, error) {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	h := p.rhdr[:8]
	if p.ipc {
		h = p.rhdr[:9]
	}
	if _, err := io.ReadFull(p.br, h); err != nil {
		return nil, p.recvErr(err)
	}
	if p.ipc {
		if h[0] != 1 {
			return nil, nanoact.Errorf(nanoact.CodeProtocol, "transport: recv "+p.url,
				"bad ipc message type %d", h[0])
		}
		h = h[1:]
	}
	sz := binary.BigEndian.Uint64(h)
	if limit := p.gate.limit(p.opt.recvGate, p.opt.maxRecv); (limit > 0 && sz > uint64(limit)) || sz > maxBody {
		if e := p.opt.events; e != nil {
			e.OnOversize(p.url, addrString(p.c.RemoteAddr()), sz, limit)
		}
		return nil, nanoact.Errorf(nanoact.CodeMsgSize, "transport: recv "+p.url,
			"message of %d bytes exceeds the %d-byte limit", sz, limit)
	}
	m, err := p.readBody(int(sz))
	if err != nil {
		if nanoact.CodeOf(err) == nanoact.CodeNoMemory {
			return nil, err // budgetErr's
		}
		return nil, p.recvErr(err)
	}
	return m, nil
}

// recvErr is ioErr for a failed read; a time-out there can only be the
// idle time-out, which is reported to LimitEvents.OnIdle.
func (p *pipe) recvErr(err error) error {
	if p.opt.idle > 0 && !p.closed.Load() && codeOf(err) == nanoact.CodeTimedOut {
		if e, ok := p.opt.events.(LimitEvents); ok {
			e.OnIdle(p.url, addrString(p.c.RemoteAddr()), p.opt.idle)
		}
		return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "transport: recv " + p.url,
			Err: fmt.Errorf("nothing received for %v: %w", p.opt.idle, err)}
	}
	return p.ioErr("recv", err)
}

// readBody reads an sz-byte body into a message from mangos' pool. A body
// longer than the read buffer is charged to the receive budget while it
// arrives, and one over firstChunk grows as it arrives (see grower).
func (p *pipe) readBody(sz int) (*mangos.Message, error) {
	head := 0
	if p.split && sz >= 4 {
		head = 4
	}
	sz -= head
	first := min(sz, firstChunk)
	var g grower
	defer g.done()
	if sz > readBufSize {
		// Nothing is allocated for a body until some of it arrives (a
		// peer that announces a length and goes silent costs nothing
		// more), and then it is charged to the budget.
		if err := p.br.Peek1(); err != nil {
			return nil, err
		}
		if !g.take(first) {
			return nil, p.budgetErr(uint64(sz + head))
		}
	}
	m := msgpool.New(first)
	if err := p.readHead(m, head); err != nil {
		return nil, err
	}
	if sz <= firstChunk {
		m.Body = m.Body[:sz]
		if _, err := io.ReadFull(p.br, m.Body); err != nil {
			m.Free()
			return nil, err
		}
		return m, nil
	}
	b := m.Body[:0]
	for len(b) < sz {
		if len(b) == cap(b) {
			var ok bool
			if b, ok = g.grow(b, sz); !ok {
				m.Free()
				return nil, p.budgetErr(uint64(sz + head))
			}
		}
		end := min(cap(b), sz)
		if _, err := io.ReadFull(p.br, b[len(b):end]); err != nil {
			m.Free()
			return nil, err
		}
		b = b[:end]
	}
	m.Body = b
	return m, nil
}

// grower charges the receive budget for the buffers of a message that is
// still arriving: the first one (take), which its pooled message keeps
// until freed, and then each larger one it grows into (grow), releasing
// the one before unless it is the first. The zero value is ready; done
// releases all it holds.
type grower struct{ first, grown int64 }

// take charges the first buffer, n bytes; false if the budget refuses.
func (g *grower) take(n int) bool {
	if !budget.reserve(int64(n)) {
		budget.refused.Add(1)
		return false
	}
	g.first = int64(n)
	return true
}

// grow returns b with room for more bytes (twice its capacity, at most
// want, at least firstChunk), its contents copied, or false when the
// budget refuses the new buffer (b is then unchanged).
func (g *grower) grow(b []byte, want int) ([]byte, bool) {
	n := min(max(2*cap(b), firstChunk), want) // > cap(b): callers grow a full b short of want
	if !budget.reserve(int64(n)) {
		budget.refused.Add(1)
		return b, false
	}
	nb := make([]byte, len(b), n)
	copy(nb, b)
	budget.release(g.grown) // the buffer before, unless it was the first
	g.grown = int64(n)
	return nb, true
}

// done releases the budget held: the message is whole (it now counts as a
// received message, bounded by the socket's queues) or abandoned.
func (g *grower) done() {
	budget.release(g.first + g.grown)
	g.first, g.grown = 0, 0
}

// budgetErr reports a message refused by the receive budget and returns
// the error that closes the pipe.
func (p *pipe) budgetErr(size uint64) error {
	lim := budget.max()
	if e, ok := p.opt.events.(LimitEvents); ok {
		e.OnRecvBudget(p.url, addrString(p.c.RemoteAddr()), size, lim)
	}
	return nanoact.Errorf(nanoact.CodeNoMemory, "transport: recv "+p.url,
		"a %d-byte message would take the bytes held in messages still arriving past the %d-byte receive budget", size, lim)
}

// readHead reads the first n bytes of a message (0 or 4) into m.Header;
// on failure m is freed.
func (p *pipe) readHead(m *mangos.Message, n int) error {
	if n == 0 {
		return nil
	}
	m.Header = append(m.Header[:0], 0, 0, 0, 0)[:n]
	if _, err := io.ReadFull(p.br, m.Header); err != nil {
		m.Free()
		return err
	}
	return nil
}

func (p *pipe) ioErr(op string, err error) error {
	if p.closed.Load() {
		return nanoact.Errorf(nanoact.CodeClosed, "transport: "+op+" "+p.url, "")
	}
	if c, ok := tlsCode(err); ok && p.tls != nil {
		return &nanoact.Error{Code: c, Op: "transport: " + op + " " + p.url, Err: err}
	}
	return wrapErr("transport: "+op+" "+p.url, err)
}

// Close closes the connection, which ends a blocked Send or Recv. It is
// idempotent and safe to call concurrently with Send and Recv; calls after
// the first return an error with CodeClosed.
func (p *pipe) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nanoact.Errorf(nanoact.CodeClosed, "transport: close "+p.url, "")
	}
	_ = p.c.Close()
	if p.onClose != nil {
		p.onClose()
	}
	return nil
}

// GetOption reads a pipe property: mangos.OptionLocalAddr and
// OptionRemoteAddr (net.Addr), OptionMaxRecvSize (int), OptionRecvGate
// (RecvGate), on tcp and
// tls+tcp OptionNoDelay and OptionKeepAlive (bool), on tls+tcp
// OptionTLSConnState (tls.ConnectionState), on ipc and abstract
// OptionPeerPID, OptionPeerUID and OptionPeerGID (int, Linux). Anything
// else gives mangos.ErrBadOption, which lets mangos' core ask the dialer
// or listener. It does not block.
func (p *pipe) GetOption(name string) (any, error) {
	switch name {
	case OptionRecvGate:
		return RecvGate(&p.gate), nil
	case OptionBatchSender:
		if p.tls == nil {
			return BatchSender(p), nil
		}
	case mangos.OptionLocalAddr:
		return p.c.LocalAddr(), nil
	case mangos.OptionRemoteAddr:
		return p.c.RemoteAddr(), nil
	case mangos.OptionMaxRecvSize:
		return p.opt.maxRecv, nil
	case mangos.OptionTLSConnState:
		if p.tls != nil {
			return p.tls.ConnectionState(), nil
		}
	}
	switch p.kind {
	case kindTCP:
		switch name {
		case mangos.OptionNoDelay:
			return p.opt.noDelay, nil
		case mangos.OptionKeepAlive:
			return p.opt.keepAlive, nil
		}
	default:
		switch name {
		case mangos.OptionPeerPID, mangos.OptionPeerUID, mangos.OptionPeerGID:
			return peerCred(p.c, name)
		}
	}
	return nil, mangos.ErrBadOption
}

// configure applies the tcp socket options of o to a new connection. Go
// turns TCP_NODELAY on by itself; SO_KEEPALIVE is left off unless asked
// for (net.Dialer and net.ListenConfig are built with KeepAlive -1), and
// then probes after o.kaPeriod of silence, every o.kaPeriod.
func configure(c net.Conn, o options) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	if !o.noDelay {
		if err := tc.SetNoDelay(false); err != nil {
			return err
		}
	}
	if o.keepAlive {
		return tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: o.kaPeriod, Interval: o.kaPeriod})
	}
	return nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
