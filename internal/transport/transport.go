package transport

import (
	"strings"
	"sync"
	"time"

	"go.nanomsg.org/mangos/v3"
	mtransport "go.nanomsg.org/mangos/v3/transport"
)

// Option names understood by this package's dialers, listeners and pipes,
// in addition to mangos.OptionMaxRecvSize (accepted but not enforced on
// inproc, as in NNG), mangos.OptionNoDelay and
// mangos.OptionKeepAlive (tcp, tls+tcp, ws, wss), mangos.OptionTLSConfig
// (tls+tcp and wss: a *tls.Config, required on both dialers and
// listeners), mangos.OptionLocalAddr, mangos.OptionRemoteAddr and, on
// tls+tcp and wss pipes, mangos.OptionTLSConnState. Any other name gives
// mangos.ErrBadOption, and a value of the wrong type or range
// mangos.ErrBadValue.
const (
	// OptionHandshakeTimeout bounds the handshake of every new connection
	// on a dialer or listener: the SP handshake (8 bytes each way) on tcp,
	// ipc and abstract; the TLS handshake and then the SP handshake,
	// together, on tls+tcp; on ws and wss the HTTP upgrade (after the TLS
	// handshake on wss), which for a dialer also includes the TCP connect;
	// on an inproc dialer the wait for the listener to accept (immediate
	// with mangos' core; an inproc listener ignores it).
	// The value is a time.Duration and must be positive; zero and negative
	// values are rejected, because an unbounded handshake is how a silent
	// peer pins a goroutine and a file descriptor. Default
	// DefaultHandshakeTimeout (NNG's fixed 10 s). A change applies to
	// connections made after it.
	OptionHandshakeTimeout = "nanoact:handshake-timeout"

	// OptionEvents installs an Events hook on a dialer or listener; its
	// pipes inherit the hook they were created with. The value is an
	// Events or nil (no hook, the default).
	OptionEvents = "nanoact:events"

	// OptionIPCPermissions sets the file mode of an ipc:// or unix://
	// listener's socket file, applied with chmod right after bind. The
	// value is an int in 0..0777 (NNG's "ipc:permissions"); it is only
	// accepted on ipc listeners, before Listen. Default: the mode bind
	// gives, which follows the process umask. A chmod failure fails Listen.
	OptionIPCPermissions = "ipc:permissions"

	// OptionTCPBoundPort is read-only on tcp, tls+tcp, ws and wss
	// listeners: the int port the listener is bound to, 0 before Listen
	// (NNG's "tcp-bound-port").
	OptionTCPBoundPort = "tcp-bound-port"

	// OptionSplitWord makes the pipes of a dialer or listener whose
	// protocol's messages start with a 4-byte word (req, rep, surveyor,
	// respondent, pair1: a request or survey id, a backtrace hop, a hop
	// count) deliver that word in the received message's Header and the
	// rest in its Body, so that a 64 KiB payload fills exactly one of
	// mangos' pooled buffers instead of a fresh, larger allocation. The
	// value is a bool, default false: mangos' own protocols expect the
	// whole message in Body. nanoact's protocol engine takes the word from
	// either place and sets it.
	OptionSplitWord = "nanoact:split-word"

	// OptionContext gives a dialer a context.Context whose end closes the
	// dialer: a Dial in progress is aborted (its connection is closed, also
	// mid-handshake) and every later Dial returns mangos.ErrClosed at once,
	// which stops mangos' redial loop. Closing is final: setting another
	// context does not reopen the dialer. mangos' own Dialer.Close does not
	// reach the transport, so a socket layer that wants Close to cut a dial
	// short passes a context here and cancels it. Default: none (the dialer
	// never closes).
	OptionContext = "nanoact:context"

	// OptionRecvGate gives each new pipe of a dialer or listener on tcp,
	// ipc, abstract, tls+tcp, ws and wss a smaller receive limit than
	// mangos.OptionMaxRecvSize until the gate is opened: a message longer
	// than the gate closes the pipe as an oversize one does (reported to
	// Events.OnOversize). A protocol that authenticates its peers in a
	// first small message (the task runner's hello) sets it, so that an
	// unauthenticated peer cannot make it hold more than that. The value
	// is an int of bytes, default 0 (no gate). Read from a pipe, the option
	// gives a RecvGate, whose Open lifts the gate. inproc ignores it (its
	// messages were allocated by the sender).
	OptionRecvGate = "nanoact:recv-gate"

	// OptionBatchSender is read-only on a pipe: a BatchSender that writes
	// several queued messages with one system call, on tcp, ipc and
	// abstract pipes; mangos.ErrBadOption elsewhere. The protocol engine
	// asks for it once per pipe.
	OptionBatchSender = "nanoact:batch-sender"
)

// Options for what a peer may hold: idle pipes and crowded listeners.
const (
	// OptionIdleTimeout closes a pipe that receives no bytes for this
	// long (on ws and wss: no message data; pings and pongs do not
	// count). SP has no keep-alive frame, so a peer that is meant to stay
	// quiet for longer must not be given one. The value is a
	// time.Duration, >= 0 on dialers and listeners of every transport
	// but inproc; 0 (the default) means none. A closed pipe is reported
	// to LimitEvents.OnIdle. Applies to connections made after the change.
	OptionIdleTimeout = "nanoact:idle-timeout"

	// OptionMaxConns caps the connections a listener holds at once,
	// those in their handshake included: a connection accepted over the
	// cap is closed at once, before any handshake, and reported to
	// LimitEvents.OnConnLimit. On ws and wss, where listeners share a
	// port, a connection is counted against its listener once its request
	// names the path (over the cap it gets HTTP 503), and before that the
	// port closes connections at accept while as many as all its
	// listeners' caps together are in their upgrade. The value is an int >= 0 on tcp, ipc,
	// abstract, tls+tcp, ws and wss listeners; 0 (the default) means no
	// cap, as in NNG. A change applies to the next accept; connections
	// already held stay.
	OptionMaxConns = "nanoact:max-conns"
)

// DefaultRecvSizeMax is the mangos.OptionMaxRecvSize default of this
// package's dialers and listeners and of nanoact sockets: 1 GiB, the
// default NNG 2.0 adopted (NNG 1.x, and so nanonext, default to 0 =
// unlimited, which let a peer that announces a huge message make the
// receiver hold all it sends). 0 is still accepted and means unlimited;
// the process-wide receive budget (SetRecvBudget) bounds memory either
// way.
const DefaultRecvSizeMax = 1 << 30

// DefaultKeepAliveTime is the mangos.OptionKeepAliveTime default: with
// mangos.OptionKeepAlive on, TCP keep-alive probes start after a
// connection has been idle this long and repeat at this interval (tcp,
// tls+tcp, ws, wss), and ws and wss pipes also send a websocket ping at
// this interval, closing a pipe whose peer answers nothing for three
// intervals. 15 s is Go's own TCP keep-alive default.
const DefaultKeepAliveTime = 15 * time.Second

// DefaultHandshakeTimeout is the OptionHandshakeTimeout default: NNG's tcp
// and tls transports give a peer 10 s to complete their handshake.
const DefaultHandshakeTimeout = 10 * time.Second

// Events receives the connection faults this package recovers from on its
// own. Without a hook they are silent, as in NNG; the sockets layer passes
// one that logs and counts.
//
// Methods are called synchronously on the goroutine that saw the fault (a
// pipe's receive goroutine or a handshake goroutine), so they must be safe
// for concurrent use, return quickly, and not call back into the dialer,
// listener or socket concerned.
type Events interface {
	// OnOversize reports a message whose announced size exceeds the
	// pipe's limit (mangos.OptionMaxRecvSize). The pipe is then closed;
	// its dialer or listener carries on. url is the dialer's or listener's
	// user URL (tcp://…, not nanoact.tcp://…), remote the peer address.
	// On ws and wss the websocket layer refuses the frame from its header
	// without telling its length, so size is limit+1 there: a lower bound.
	OnOversize(url, remote string, size uint64, limit int)

	// OnHandshakeFail reports a connection closed during its handshake: a
	// time-out (err matches nanoact.ErrTimedOut), a bad SP header, the
	// wrong protocol or a refused websocket upgrade (nanoact.ErrProtocol),
	// a failed TLS handshake (nanoact.ErrCrypto, or nanoact.ErrPeerAuth
	// when a certificate does not verify), or the peer hanging up. On a
	// listener the connection is dropped and accepting goes on; on a
	// dialer err is also returned by Dial. A ws or wss connection that
	// fails before its request names a path (TLS, a malformed or late
	// request, an unknown path) is reported to every listener sharing the
	// address. An inproc dial from the wrong protocol is reported to the
	// dialer and to the listener, remote being the inproc name (called on
	// the dialing goroutine for both); so is, to the dialer, an inproc
	// dial not accepted within the handshake time-out.
	OnHandshakeFail(url, remote string, err error)
}

// LimitEvents is what an Events hook may also implement to hear of the
// limits this package enforces against peers; a hook without these
// methods is not told. The same concurrency contract as Events applies;
// the methods are called on a pipe's receive goroutine, a listener's
// accept goroutine (OnConnLimit) or a ws pipe's keep-alive timer
// (OnIdle).
type LimitEvents interface {
	// OnRecvBudget reports a message refused because holding it while it
	// arrives would take the process-wide receive budget (SetRecvBudget)
	// past its limit. The pipe is then closed; its dialer or listener
	// carries on. size is the announced size (on ws and wss, where the
	// size is not announced, the bytes the message would have held);
	// budget the limit in force.
	OnRecvBudget(url, remote string, size uint64, budget int64)

	// OnConnLimit reports a connection closed as soon as it was accepted,
	// because its listener already held OptionMaxConns connections.
	OnConnLimit(url, remote string, limit int)

	// OnIdle reports a pipe closed because it received nothing for its
	// OptionIdleTimeout, or, on ws and wss with keep-alive on, because
	// its peer answered no ping within three keep-alive periods.
	OnIdle(url, remote string, idle time.Duration)
}

var registerOnce sync.Once

// Register adds this package's transports to mangos' process-wide
// registry under the private schemes nanoact.tcp, nanoact.tcp4,
// nanoact.tcp6, nanoact.ipc, nanoact.unix, nanoact.abstract,
// nanoact.tls+tcp (also tls+tcp4 and tls+tcp6), nanoact.ws (ws4, ws6),
// nanoact.wss (wss4, wss6) and nanoact.inproc. Plain tcp://, ipc://, ws://,
// inproc:// and the others stay with mangos' own transports, so other mangos users in the process
// are unaffected. Use Rewrite to turn a user URL into one of these
// schemes.
//
// Register is idempotent and safe for concurrent use; it does not block
// beyond a map update and starts no goroutine.
func Register() {
	registerOnce.Do(func() {
		for _, t := range []*tran{
			{user: "tcp", kind: kindTCP},
			{user: "tcp4", kind: kindTCP},
			{user: "tcp6", kind: kindTCP},
			{user: "ipc", kind: kindIPC},
			{user: "unix", kind: kindIPC},
			{user: "abstract", kind: kindAbstract},
			{user: "tls+tcp", kind: kindTCP, tls: true},
			{user: "tls+tcp4", kind: kindTCP, tls: true},
			{user: "tls+tcp6", kind: kindTCP, tls: true},
			{user: "ws", kind: kindWS},
			{user: "ws4", kind: kindWS},
			{user: "ws6", kind: kindWS},
			{user: "wss", kind: kindWS, tls: true},
			{user: "wss4", kind: kindWS, tls: true},
			{user: "wss6", kind: kindWS, tls: true},
			{user: "inproc", kind: kindInproc},
		} {
			mtransport.RegisterTransport(t)
		}
	})
}

// kind is the family of a transport.
type kind uint8

const (
	kindTCP      kind = iota // tcp and tls+tcp
	kindIPC                  // ipc and unix
	kindAbstract             // Linux abstract unix sockets
	kindWS                   // ws and wss
	kindInproc               // inproc: in-process, by name
)

// tran implements mangos.Transport for one scheme.
type tran struct {
	user string // user-facing scheme: "tcp"
	kind kind
	tls  bool // tls+tcp, wss: TLS below the SP or HTTP handshake
}

// overTCP reports whether the transport runs over TCP (and so takes
// OptionNoDelay, OptionKeepAlive and reports a bound port).
func (t *tran) overTCP() bool { return t.kind == kindTCP || t.kind == kindWS }

// network is the net package's network for a TCP-based transport: "tcp",
// or "tcp4" and "tcp6" for the schemes ending in 4 and 6.
func (t *tran) network() string {
	switch t.user[len(t.user)-1] {
	case '4':
		return "tcp4"
	case '6':
		return "tcp6"
	}
	return "tcp"
}

// Scheme returns the private scheme, e.g. "nanoact.tcp".
func (t *tran) Scheme() string { return privatePrefix + t.user }

// userURL strips the private scheme from a mangos URL and parses what is
// left as the user URL NNG would have seen.
func (t *tran) userURL(addr string) (*nngURL, string, error) {
	rest, ok := strings.CutPrefix(addr, t.Scheme()+"://")
	if !ok {
		return nil, "", mangos.ErrBadTran
	}
	url := t.user + "://" + rest
	u, err := parseURL(url)
	if err != nil {
		return nil, "", err
	}
	return u, url, nil
}

// NewDialer validates addr for dialing and returns a dialer. It resolves
// nothing but a tcp source address (tcp://src;host:port); the peer is
// resolved on every Dial. sock supplies the protocol numbers (and, on ws
// and wss, names). It does not block and starts no goroutine.
func (t *tran) NewDialer(addr string, sock mangos.Socket) (mangos.TranDialer, error) {
	u, url, err := t.userURL(addr)
	if err != nil {
		return nil, err
	}
	return newDialer(t, u, url, sock.Info())
}

// NewListener validates addr for listening and, for the TCP-based
// transports, resolves the host once, as NNG does (a DNS look-up may
// block). Nothing is bound until Listen.
func (t *tran) NewListener(addr string, sock mangos.Socket) (mangos.TranListener, error) {
	u, url, err := t.userURL(addr)
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case kindWS:
		return newWSListener(t, u, url, sock.Info())
	case kindInproc:
		return newInprocListener(t, u, url, sock.Info()), nil
	}
	return newListener(t, u, url, sock.Info())
}
