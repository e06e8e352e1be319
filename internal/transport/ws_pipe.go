package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/msgpool"
)

// wsPipe is an SP connection over a websocket: mangos.TranPipe.
//
// Send and Recv may run concurrently with each other and with Close;
// concurrent Sends (or Recvs) are serialised by a mutex. Memory: gorilla's
// 4 KiB read and write buffers, an 8 KiB receive scratch buffer once the
// pipe receives, and the messages. No goroutine of its own; with
// keep-alive on, a timer that sends a ping each period (see keepAlive).
type wsPipe struct {
	ws     *websocket.Conn
	opt    options
	url    string
	closed atomic.Bool
	gate   gate // OptionRecvGate, counted by recvBody

	sendMu sync.Mutex

	recvMu  sync.Mutex
	scratch []byte
	split   bool // received messages start with a word: see splitsWord

	onClose func() // set by a listener: gives back its connection slot

	// keep-alive (opt.keepAlive): ka pings every opt.kaPeriod; seen is
	// when the peer last sent anything (UnixNano); dead is set when it
	// answered nothing for three periods. kaMu orders the timer's
	// re-arming with Close, and kaRun counts callbacks armed or running.
	kaMu  sync.Mutex
	ka    *time.Timer
	kaRun sync.WaitGroup
	seen  atomic.Int64
	dead  atomic.Bool
}

func newWSPipe(ws *websocket.Conn, o options, url string, info mangos.ProtocolInfo) *wsPipe {
	ws.SetReadLimit(int64(o.maxRecv)) // 0: none
	p := &wsPipe{ws: ws, opt: o, url: url, split: splitsWord(o, info.Self)}
	if o.keepAlive {
		p.seen.Store(time.Now().UnixNano())
		ws.SetPongHandler(func(string) error {
			p.seen.Store(time.Now().UnixNano())
			return nil
		})
		ws.SetPingHandler(func(data string) error {
			p.seen.Store(time.Now().UnixNano())
			// As gorilla's default handler: answer, and leave write
			// failures to the next Send.
			_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			return nil
		})
		p.kaMu.Lock()
		p.kaRun.Add(1)
		p.ka = time.AfterFunc(o.kaPeriod, p.keepAlive)
		p.kaMu.Unlock()
	}
	return p
}

// keepAlive runs on the keep-alive timer: it closes the connection if the
// peer sent nothing (data, ping or pong) for three periods, and otherwise
// pings it and re-arms. Websocket pings are part of RFC 6455, which every
// SP websocket peer (NNG, mangos) answers; SP itself has no keep-alive.
func (p *wsPipe) keepAlive() {
	defer p.kaRun.Done()
	p.kaMu.Lock()
	defer p.kaMu.Unlock()
	if p.closed.Load() {
		return
	}
	period := p.opt.kaPeriod
	if time.Since(time.Unix(0, p.seen.Load())) > 3*period {
		p.dead.Store(true)
		if e, ok := p.opt.events.(LimitEvents); ok {
			e.OnIdle(p.url, addrString(p.ws.RemoteAddr()), 3*period)
		}
		_ = p.ws.UnderlyingConn().Close() // Recv fails; mangos' core then closes p
		return
	}
	_ = p.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(period))
	p.kaRun.Add(1)
	p.ka.Reset(period)
}

// msgReader reads a message's bytes with the pipe's idle deadline renewed
// before each read (OptionIdleTimeout), and marks the peer seen for
// keep-alive.
type msgReader struct {
	r io.Reader
	p *wsPipe
}

func (m msgReader) Read(b []byte) (int, error) {
	if err := m.p.renew(); err != nil {
		return 0, err
	}
	n, err := m.r.Read(b)
	if n > 0 && m.p.opt.keepAlive {
		m.p.seen.Store(time.Now().UnixNano())
	}
	return n, err
}

// renew sets the idle read deadline, if the pipe has one.
func (p *wsPipe) renew() error {
	if p.opt.idle > 0 {
		return p.ws.SetReadDeadline(time.Now().Add(p.opt.idle))
	}
	return nil
}

// Send writes m (header, then body) as one binary websocket message. It
// blocks until the kernel has taken it. On success it takes ownership of
// m and frees it; on error m stays the caller's and the pipe must be
// closed (mangos' core does). A listener's side sends a message without a
// header as a single frame without copying it; gorilla may split others
// into continuation frames, which every peer joins up again.
func (p *wsPipe) Send(m *mangos.Message) error {
	p.sendMu.Lock()
	var err error
	if len(m.Header) == 0 {
		err = p.ws.WriteMessage(websocket.BinaryMessage, m.Body)
	} else {
		var w io.WriteCloser
		if w, err = p.ws.NextWriter(websocket.BinaryMessage); err == nil {
			if _, err = w.Write(m.Header); err == nil {
				_, err = w.Write(m.Body)
			}
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
	}
	p.sendMu.Unlock()
	if err != nil {
		return p.ioErr("send", err)
	}
	m.Free()
	return nil
}

// Recv reads one websocket message and returns it as a message whose Body
// holds all of it. It blocks until one arrives or the connection fails.
// A message longer than the pipe's limit is refused by the websocket
// layer from its frame header (the peer gets close code 1009): Recv
// reports it to Events.OnOversize and returns an error with CodeMsgSize,
// after which the pipe must be closed. A text message is a protocol error
// (CodeProtocol), as in NNG.
func (p *wsPipe) Recv() (*mangos.Message, error) {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	if err := p.renew(); err != nil {
		return nil, p.recvErr(err)
	}
	typ, r, err := p.ws.NextReader()
	if err != nil {
		return nil, p.recvErr(err)
	}
	if p.opt.idle > 0 || p.opt.keepAlive {
		if p.opt.keepAlive {
			p.seen.Store(time.Now().UnixNano())
		}
		r = msgReader{r, p}
	}
	if typ != websocket.BinaryMessage {
		return nil, nanoact.Errorf(nanoact.CodeProtocol, "transport: recv "+p.url, "text message on an SP websocket")
	}
	if !p.split {
		return p.recvBody(r)
	}
	var head [4]byte
	switch k, err := io.ReadFull(r, head[:]); {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		m := msgpool.New(k) // too short for its protocol, which drops it
		m.Body = append(m.Body[:0], head[:k]...)
		return m, nil
	case err != nil:
		return nil, p.recvErr(err)
	}
	m, err := p.recvBody(r)
	if err != nil {
		return nil, err
	}
	m.Header = append(m.Header[:0], head[:]...)
	return m, nil
}

// recvBody reads the rest of the message r reads into a message's Body.
func (p *wsPipe) recvBody(r io.Reader) (*mangos.Message, error) {
	if p.scratch == nil {
		p.scratch = make([]byte, wsScratch)
	}
	n, err := io.ReadFull(r, p.scratch)
	// The websocket layer enforces maxRecv; the gate, which may open
	// while a read waits, is counted here as the bytes arrive.
	if g := p.gate.limit(p.opt.recvGate, 0); g > 0 && n > g {
		return nil, p.overGate(uint64(n), g)
	}
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		// The whole message is in scratch: its size is known.
		m := msgpool.New(n)
		m.Body = append(m.Body[:0], p.scratch[:n]...)
		return m, nil
	case err != nil:
		return nil, p.recvErr(err)
	}
	// Longer: mangos' largest pooled buffer (the class msgpool.New gives
	// any size above 8 KiB), doubled as needed. A full buffer is probed
	// through scratch before it grows, so that a message filling it
	// exactly costs no allocation.
	// It and its growth are charged to the receive budget.
	var g grower
	defer g.done()
	if !g.take(64 << 10) {
		return nil, p.budgetErr(64 << 10)
	}
	m := msgpool.New(64 << 10)
	b := append(m.Body[:0], p.scratch...)
	for {
		var k int
		if len(b) < cap(b) {
			k, err = r.Read(b[len(b):cap(b)])
			b = b[:len(b)+k]
		} else if k, err = r.Read(p.scratch); k > 0 {
			nb, ok := g.grow(b, math.MaxInt)
			if !ok {
				m.Free()
				return nil, p.budgetErr(uint64(2 * cap(b)))
			}
			b = append(nb, p.scratch[:k]...)
		}
		if g := p.gate.limit(p.opt.recvGate, 0); g > 0 && len(b) > g {
			m.Free()
			return nil, p.overGate(uint64(len(b)), g)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			m.Free()
			return nil, p.recvErr(err)
		}
	}
	m.Body = b
	return m, nil
}

// budgetErr reports a message refused by the receive budget and returns
// the error that closes the pipe.
func (p *wsPipe) budgetErr(size uint64) error {
	lim := budget.max()
	if e, ok := p.opt.events.(LimitEvents); ok {
		e.OnRecvBudget(p.url, addrString(p.ws.RemoteAddr()), size, lim)
	}
	return nanoact.Errorf(nanoact.CodeNoMemory, "transport: recv "+p.url,
		"a message of at least %d bytes would take the bytes held in messages still arriving past the %d-byte receive budget", size, lim)
}

func (p *wsPipe) recvErr(err error) error {
	if !p.closed.Load() {
		if p.dead.Load() {
			return nanoact.Errorf(nanoact.CodeTimedOut, "transport: recv "+p.url,
				"peer answered no keep-alive ping for %v", 3*p.opt.kaPeriod)
		}
		if p.opt.idle > 0 && codeOf(err) == nanoact.CodeTimedOut {
			if e, ok := p.opt.events.(LimitEvents); ok {
				e.OnIdle(p.url, addrString(p.ws.RemoteAddr()), p.opt.idle)
			}
			return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "transport: recv " + p.url,
				Err: fmt.Errorf("nothing received for %v: %w", p.opt.idle, err)}
		}
	}
	if errors.Is(err, websocket.ErrReadLimit) && !p.closed.Load() {
		limit := p.opt.maxRecv
		if e := p.opt.events; e != nil {
			e.OnOversize(p.url, addrString(p.ws.RemoteAddr()), uint64(limit)+1, limit)
		}
		return nanoact.Errorf(nanoact.CodeMsgSize, "transport: recv "+p.url,
			"message exceeds the %d-byte limit", limit)
	}
	return p.ioErr("recv", err)
}

func (p *wsPipe) ioErr(op string, err error) error {
	op = "transport: " + op + " " + p.url
	if p.closed.Load() {
		return nanoact.Errorf(nanoact.CodeClosed, op, "")
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return &nanoact.Error{Code: nanoact.CodeConnShut, Op: op, Err: err}
	}
	if c, ok := tlsCode(err); ok {
		return &nanoact.Error{Code: c, Op: op, Err: err}
	}
	return wrapErr(op, err)
}

// overGate reports a message that passed the pipe's gate after size
// bytes (a lower bound of its length).
func (p *wsPipe) overGate(size uint64, limit int) error {
	if e := p.opt.events; e != nil {
		e.OnOversize(p.url, addrString(p.ws.RemoteAddr()), size, limit)
	}
	return nanoact.Errorf(nanoact.CodeMsgSize, "transport: recv "+p.url,
		"message exceeds the %d-byte limit", limit)
}

// Close closes the connection, which ends a blocked Send or Recv. It is
// idempotent and safe to call concurrently with Send and Recv; calls after
// the first return an error with CodeClosed. It does not block, beyond
// waiting for a keep-alive ping in flight (bounded by its period).
func (p *wsPipe) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nanoact.Errorf(nanoact.CodeClosed, "transport: close "+p.url, "")
	}
	_ = p.ws.Close()
	if p.ka != nil {
		p.kaMu.Lock()
		if p.ka.Stop() {
			p.kaRun.Done() // it will not run
		}
		p.kaMu.Unlock()
		p.kaRun.Wait()
	}
	if p.onClose != nil {
		p.onClose()
	}
	return nil
}

// GetOption reads a pipe property: mangos.OptionLocalAddr and
// OptionRemoteAddr (net.Addr), OptionMaxRecvSize (int), OptionRecvGate
// (RecvGate), OptionNoDelay and
// OptionKeepAlive (bool), on wss OptionTLSConnState
// (tls.ConnectionState). Anything else gives mangos.ErrBadOption. It does
// not block.
func (p *wsPipe) GetOption(name string) (any, error) {
	switch name {
	case OptionRecvGate:
		return RecvGate(&p.gate), nil
	case mangos.OptionLocalAddr:
		return p.ws.LocalAddr(), nil
	case mangos.OptionRemoteAddr:
		return p.ws.RemoteAddr(), nil
	case mangos.OptionMaxRecvSize:
		return p.opt.maxRecv, nil
	case mangos.OptionNoDelay:
		return p.opt.noDelay, nil
	case mangos.OptionKeepAlive:
		return p.opt.keepAlive, nil
	case mangos.OptionTLSConnState:
		if tc, ok := p.ws.UnderlyingConn().(*tls.Conn); ok {
			return tc.ConnectionState(), nil
		}
	}
	return nil, mangos.ErrBadOption
}
