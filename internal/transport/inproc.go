package transport

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/msgpool"
	"go.nanomsg.org/mangos/v3"
)

// inproc:// connects sockets of one process by name. As in NNG, names are
// process-wide: the registry below maps each name to the one listener
// bound to it. A connection is a pair of pipes sharing two unbuffered
// channels, one per direction; a message goes across by pointer, so a send
// copies nothing unless the message is shared or must be laid out anew for
// its receiver (see inprocPipe.Recv).

// inprocRegistry is the process-wide name → listener table.
var inprocRegistry = struct {
	mu sync.Mutex
	m  map[string]*inprocListener
}{m: make(map[string]*inprocListener)}

// inprocAddr is the net.Addr of both ends of an inproc connection.
type inprocAddr string

// Network returns "inproc".
func (inprocAddr) Network() string { return "inproc" }

// String returns the name, without the scheme.
func (a inprocAddr) String() string { return string(a) }

// inprocConn is what the two pipes of one connection share.
type inprocConn struct {
	ch     [2]chan *mangos.Message // [0] dialer to listener, [1] listener to dialer
	closeq chan struct{}           // closed when either end closes
	once   sync.Once
}

// inprocPipe is one end of an inproc connection: mangos.TranPipe.
//
// It has no goroutine and no buffer: Send blocks until the peer's Recv
// takes the message, which then changes hands without a copy. Send, Recv
// and Close may run concurrently.
type inprocPipe struct {
	c      *inprocConn
	tx, rx chan *mangos.Message
	addr   inprocAddr
	url    string // the endpoint's user URL, for errors
	opt    options
	split  bool // deliver a 4-byte first word in Header: see splitsWord
	closed atomic.Bool
}

// newInprocPair connects a dialer's pipe (options do, protocol dself) to
// a listener's (lo, lself).
func newInprocPair(name, durl, lurl string, do, lo options, dself, lself uint16) (d, l *inprocPipe) {
	c := &inprocConn{
		ch:     [2]chan *mangos.Message{make(chan *mangos.Message), make(chan *mangos.Message)},
		closeq: make(chan struct{}),
	}
	d = &inprocPipe{c: c, tx: c.ch[0], rx: c.ch[1], addr: inprocAddr(name), url: durl, opt: do, split: splitsWord(do, dself)}
	l = &inprocPipe{c: c, tx: c.ch[1], rx: c.ch[0], addr: inprocAddr(name), url: lurl, opt: lo, split: splitsWord(lo, lself)}
	return d, l
}

func (p *inprocPipe) closedErr(op string) error {
	return nanoact.Errorf(nanoact.CodeClosed, "transport: "+op+" "+p.url, "")
}

// Send hands m to the peer's Recv and blocks until the peer takes it or
// either end closes. On success m belongs to the receiver, without a copy:
// do not touch it after Send returns nil. If the connection is closed
// first, Send returns an error with CodeClosed and m stays the caller's,
// unmodified.
func (p *inprocPipe) Send(m *mangos.Message) error {
	select {
	case <-p.c.closeq:
		return p.closedErr("send")
	default:
	}
	select {
	case p.tx <- m:
		return nil
	case <-p.c.closeq:
		return p.closedErr("send")
	}
}

// OptionTrySender is read-only on an inproc pipe: a TrySender that hands
// a message to the peer's receiver only if it is waiting for one.
const OptionTrySender = "nanoact:try-sender"

// TrySender is what an inproc pipe offers through
// GetOption(OptionTrySender): a send that never waits, so that the
// sending goroutine can give a message straight to a receiver already
// waiting, without the hop through the pipe's writer goroutine.
type TrySender interface {
	// TrySend hands m to the peer's Recv if it is waiting now and reports
	// whether it did; m then belongs to the receiver, as after Send.
	// false (the peer's receiver busy, or the connection closed) leaves m
	// the caller's, unmodified. It never blocks.
	TrySend(m *mangos.Message) bool
}

// TrySend implements TrySender: a non-blocking Send.
func (p *inprocPipe) TrySend(m *mangos.Message) bool {
	select {
	case <-p.c.closeq:
		return false
	default:
	}
	select {
	case p.tx <- m:
		return true
	default:
		return false
	}
}

// Recv blocks until the peer sends a message or either end closes (an
// error with CodeClosed). The message is the sender's own unless it was
// shared (a Clone'd message, copied by MakeUnique) or its Header must be
// moved: Header is kept only when it is the 4-byte first word this pipe
// splits off (OptionSplitWord); any other non-empty Header is copied with
// the Body into a new message whose Body holds the whole wire message, as
// NNG's inproc does. Neither copy happens on the usual paths: a headerless
// message, or a word-split protocol talking to a splitting peer.
func (p *inprocPipe) Recv() (*mangos.Message, error) {
	select {
	case <-p.c.closeq:
		return nil, p.closedErr("recv")
	default:
	}
	select {
	case m := <-p.rx:
		return p.layout(m), nil
	case <-p.c.closeq:
		return nil, p.closedErr("recv")
	}
}

// layout makes a received message this pipe's own and shapes it as the
// receiving protocol expects.
func (p *inprocPipe) layout(m *mangos.Message) *mangos.Message {
	h := len(m.Header)
	if h == 0 || (h == 4 && p.split) {
		return m.MakeUnique()
	}
	n := msgpool.New(h + len(m.Body))
	n.Body = append(append(n.Body, m.Header...), m.Body...)
	m.Free()
	return n
}

// Close closes the connection, both ends: a blocked Send or Recv on
// either returns an error with CodeClosed. A message in flight stays with
// whoever held it. Close is idempotent and does not block; calls after
// the first on the same end return an error with CodeClosed.
func (p *inprocPipe) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return p.closedErr("close")
	}
	p.c.once.Do(func() { close(p.c.closeq) })
	return nil
}

// GetOption reads mangos.OptionLocalAddr and OptionRemoteAddr (both an
// inproc net.Addr naming the address), OptionTrySender (the pipe itself)
// and OptionMaxRecvSize (the
// endpoint's value, reported but not enforced: inproc ignores receive
// limits, as NNG does). Anything else gives mangos.ErrBadOption. It does
// not block.
func (p *inprocPipe) GetOption(name string) (any, error) {
	switch name {
	case mangos.OptionLocalAddr, mangos.OptionRemoteAddr:
		return p.addr, nil
	case mangos.OptionMaxRecvSize:
		return p.opt.maxRecv, nil
	case OptionTrySender:
		return TrySender(p), nil
	}
	return nil, mangos.ErrBadOption
}

// dialInproc connects to the listener bound to d.addr. It fails at once
// with CodeConnRefused when there is none and with CodeProtocol when the
// listener's socket is not our peer protocol (reported to both sides'
// Events). Otherwise it waits for the listener to accept, which mangos'
// core does at once, for at most the handshake time-out (CodeTimedOut);
// a listener closing meanwhile gives CodeConnRefused, the end of the
// OptionContext context mangos.ErrClosed.
func (d *dialer) dialInproc(o options, op string) (mangos.TranPipe, error) {
	inprocRegistry.mu.Lock()
	l := inprocRegistry.m[d.addr]
	inprocRegistry.mu.Unlock()
	if l == nil {
		return nil, nanoact.Errorf(nanoact.CodeConnRefused, op, "nobody listens")
	}
	l.mu.Lock()
	lo, closed := l.opt, l.closed
	l.mu.Unlock()
	if closed {
		return nil, nanoact.Errorf(nanoact.CodeConnRefused, op, "nobody listens")
	}
	if d.proto.Self != l.proto.Peer || d.proto.Peer != l.proto.Self {
		err := nanoact.Errorf(nanoact.CodeProtocol, op, "listener speaks %s, want %s",
			l.proto.SelfName, d.proto.PeerName)
		if lo.events != nil {
			lo.events.OnHandshakeFail(l.url, d.addr, nanoact.Errorf(nanoact.CodeProtocol,
				"transport: accept "+l.url, "dialer speaks %s, want %s",
				d.proto.SelfName, l.proto.PeerName))
		}
		if o.events != nil {
			o.events.OnHandshakeFail(d.url, d.addr, err)
		}
		return nil, err
	}
	dp, lp := newInprocPair(d.addr, d.url, l.url, o, lo, d.proto.Self, l.proto.Self)
	t := time.NewTimer(o.hsTimeout)
	defer t.Stop()
	select {
	case l.ready <- lp:
		return dp, nil
	case <-l.closeq:
		return nil, nanoact.Errorf(nanoact.CodeConnRefused, op, "listener closed")
	case <-d.ctx.Done():
		return nil, mangos.ErrClosed
	case <-t.C:
		err := nanoact.Errorf(nanoact.CodeTimedOut, op, "not accepted within %v", o.hsTimeout)
		if o.events != nil {
			o.events.OnHandshakeFail(d.url, d.addr, err)
		}
		return nil, err
	}
}

// inprocListener is mangos.TranListener for inproc://name. It starts no
// goroutine: each Dial hands its pipe straight to a waiting Accept.
type inprocListener struct {
	t     *tran
	name  string
	url   string // inproc://name
	proto mangos.ProtocolInfo

	closeq chan struct{}        // closed by Close
	ready  chan mangos.TranPipe // from Dial to Accept, unbuffered

	mu        sync.Mutex
	opt       options
	listening bool
	closed    bool
}

func newInprocListener(t *tran, u *nngURL, url string, info mangos.ProtocolInfo) *inprocListener {
	return &inprocListener{
		t:      t,
		name:   u.path,
		url:    url,
		proto:  info,
		closeq: make(chan struct{}),
		ready:  make(chan mangos.TranPipe),
		opt:    defaultOptions(),
	}
}

// Listen binds the name for the whole process. It does not block. A name
// already bound gives CodeAddrInUse, a closed listener mangos.ErrClosed, a
// second Listen CodeState.
func (l *inprocListener) Listen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	op := "transport: listen " + l.url
	switch {
	case l.closed:
		return mangos.ErrClosed
	case l.listening:
		return nanoact.Errorf(nanoact.CodeState, op, "already listening")
	}
	inprocRegistry.mu.Lock()
	defer inprocRegistry.mu.Unlock()
	if _, taken := inprocRegistry.m[l.name]; taken {
		return nanoact.Errorf(nanoact.CodeAddrInUse, op, "name already bound")
	}
	inprocRegistry.m[l.name] = l
	l.listening = true
	return nil
}

// Accept blocks until a dialer connects and returns the listener's end of
// the connection. It returns mangos.ErrClosed (the value mangos' core
// stops on) once the listener is closed or if it is not listening.
func (l *inprocListener) Accept() (mangos.TranPipe, error) {
	l.mu.Lock()
	listening := l.listening
	l.mu.Unlock()
	if !listening {
		return nil, mangos.ErrClosed
	}
	return takeReady(l.ready, l.closeq)
}

// Close unbinds the name and ends a blocked Accept; a Dial waiting to be
// accepted fails with CodeConnRefused. Pipes already connected are not
// affected. It does not block (the listener has no goroutine). A second
// Close returns an error with CodeClosed.
func (l *inprocListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nanoact.Errorf(nanoact.CodeClosed, "transport: close "+l.url, "")
	}
	l.closed = true
	close(l.closeq)
	if l.listening {
		inprocRegistry.mu.Lock()
		if inprocRegistry.m[l.name] == l {
			delete(inprocRegistry.m, l.name)
		}
		inprocRegistry.mu.Unlock()
	}
	return nil
}

// Address returns the user URL, inproc://name.
func (l *inprocListener) Address() string { return l.url }

// SetOption sets mangos.OptionMaxRecvSize (reported by pipes, not
// enforced), OptionHandshakeTimeout (unused by a listener: accepting
// involves no handshake), OptionEvents and OptionSplitWord. Changes apply
// to connections accepted later. It does not block.
func (l *inprocListener) SetOption(name string, v any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok, err := l.opt.set(l.t, name, v); ok {
		return err
	}
	return mangos.ErrBadOption
}

// GetOption reads the options SetOption accepts, plus
// mangos.OptionLocalAddr (the inproc net.Addr; CodeState before Listen).
func (l *inprocListener) GetOption(name string) (any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if name == mangos.OptionLocalAddr {
		if !l.listening {
			return nil, nanoact.Errorf(nanoact.CodeState, "transport: get "+name, "not listening")
		}
		return inprocAddr(l.name), nil
	}
	if v, ok := l.opt.get(l.t, name); ok {
		return v, nil
	}
	return nil, mangos.ErrBadOption
}
