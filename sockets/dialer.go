package sockets

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"go.nanomsg.org/mangos/v3"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/transport"
)

// Dialer connects its socket to a listener at a URL, and reconnects when
// the connection is lost. It is safe for concurrent use. Closing the
// socket closes it.
type Dialer struct {
	endpoint
	md    mangos.Dialer
	mopts map[string]any // the transport options md was made with
}

// Dial creates a dialer for url and starts it per the StartMode option:
// Async (default) connects in the background, retrying every reconnect
// time until it succeeds; Sync makes one attempt now and fails with its
// error (ErrConnRefused when nobody listens), leaving no dialer; Later only
// creates it (see Start).
//
// URLs: inproc://name, ipc:///path, unix:///path, abstract://name (Linux),
// tcp://host:port (tcp4, tcp6; IPv6 as [::1]), ws://host:port/path, and
// over TLS tls+tcp://host:port and wss://host:port/path (see TLS).
// Errors: ErrInvalid (no "://"; a TLS URL without a client TLS config),
// ErrNotSupported (unknown scheme; TLS on a URL without TLS),
// ErrAddrInvalid (bad host or port), ErrClosed. A Sync dial over TLS fails
// with ErrPeerAuth when the server's certificate does not verify.
func (s *Socket) Dial(url string, opts ...EndpointOption) (*Dialer, error) {
	var ec endpointConfig
	for _, o := range opts {
		o.applyEndpoint(&ec)
	}
	op := "sockets: dial " + url
	var d *Dialer
	err := s.control(op, func() error {
		murl, mopts, err := s.prepareEndpoint(op, url, ec, true)
		if err != nil {
			return err
		}
		// bounded reports whether ec.ctx is still live, and from then on
		// no longer ends the dialer (StartContext).
		bounded := func() bool { return true }
		if ec.ctx != nil && ec.start == Sync {
			if err := nanoact.FromContext(ec.ctx, op); err != nil {
				return err
			}
			if _, ok := mopts[transport.OptionContext]; ok {
				// The attempt ends with the socket or with ec.ctx; once
				// it succeeded, only with the socket.
				attempt, cancel := context.WithCancel(s.life)
				mopts[transport.OptionContext] = attempt
				stop := context.AfterFunc(ec.ctx, cancel)
				bounded = func() bool {
					if !stop() {
						return false
					}
					if d == nil {
						cancel()
					}
					return true
				}
			}
		}
		md, err := s.ms.NewDialer(murl, mopts)
		if err != nil {
			_ = bounded()
			return endpointErr(err, op)
		}
		d = &Dialer{md: md, mopts: mopts}
		d.init(s, url)
		s.mu.Lock()
		s.dialers = append(s.dialers, d)
		s.mu.Unlock()
		if ec.start == Later {
			return nil
		}
		err = d.start(ec.start)
		if err == nil && !bounded() {
			err = nanoact.FromContext(ec.ctx, op) // ended as the dial succeeded
		}
		if err != nil {
			s.removeDialer(d)
			_ = md.Close()
			d = nil
			_ = bounded()
			if ec.ctx != nil && ec.ctx.Err() != nil {
				return nanoact.FromContext(ec.ctx, op)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// transportOptions returns the options our own transports take: all of
// them (inproc included) the handshake time-out, the events hook and the
// word split, those over TCP (tcp, tls+tcp, ws, wss) the TCP socket
// options too.
func (s *Socket) transportOptions(murl string) map[string]any {
	scheme, _, _ := strings.Cut(murl, "://")
	user, ours := strings.CutPrefix(scheme, "nanoact.")
	if !ours {
		return nil
	}
	opts := map[string]any{
		transport.OptionHandshakeTimeout: s.cfg.handshakeTimeout,
		transport.OptionEvents:           newTransportEvents(s),
		transport.OptionSplitWord:        true,
	}
	if s.cfg.recvGate > 0 {
		opts[transport.OptionRecvGate] = s.cfg.recvGate
	}
	switch user {
	case "ipc", "unix", "abstract", "inproc":
	default:
		opts[mangos.OptionNoDelay] = s.cfg.noDelay
		opts[mangos.OptionKeepAlive] = s.cfg.keepAlive
	}
	if user != "inproc" {
		opts[transport.OptionIdleTimeout] = s.cfg.idleTimeout // limits.go
	}
	return opts
}

// prepareEndpoint does what Dial and Listen share, in the socket actor:
// refuse a closed socket, check and rewrite url, and build the transport
// options (with TLS, and for a dialer on nanoact's transports the socket's
// lifetime, so that closing the socket ends a dial still in its
// handshake).
func (s *Socket) prepareEndpoint(op, url string, ec endpointConfig, dialer bool) (string, map[string]any, error) {
	if s.isClosed() {
		return "", nil, &nanoact.Error{Code: nanoact.CodeClosed, Op: op}
	}
	murl, err := transport.Rewrite(url)
	if err != nil {
		return "", nil, endpointErr(err, op)
	}
	mopts, err := s.endpointOptions(op, murl, ec.tls, dialer)
	if err != nil {
		return "", nil, err
	}
	if dialer && strings.HasPrefix(murl, "nanoact.") {
		mopts[transport.OptionContext] = s.life
	}
	if !dialer && s.cfg.maxConns > 0 && strings.HasPrefix(murl, "nanoact.") && !strings.HasPrefix(murl, "nanoact.inproc:") {
		mopts[transport.OptionMaxConns] = s.cfg.maxConns // limits.go
	}
	return murl, mopts, nil
}

func (s *Socket) removeDialer(d *Dialer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.dialers {
		if x == d {
			s.dialers = append(s.dialers[:i], s.dialers[i+1:]...)
			return
		}
	}
}

// start runs in the socket actor.
func (d *Dialer) start(mode StartMode) error {
	op := "sockets: dial " + d.url
	if err := d.md.SetOption(mangos.OptionDialAsynch, mode != Sync); err != nil {
		return nngerr.Wrap(err, op)
	}
	if err := d.md.Dial(); err != nil {
		return endpointErr(err, op)
	}
	d.mu.Lock()
	d.state = Started
	d.mu.Unlock()
	d.s.log.Debug("dialer started", zap.String("url", d.url), zap.Stringer("mode", mode))
	return nil
}

// Start starts a dialer created with Later, Async (connect in the
// background, retrying) or Sync (one attempt now; its error is returned and
// the dialer stays not started). A started dialer gives ErrState, a closed
// one ErrNotFound (NNG's "Entry not found"). opts may hold StartContext,
// which bounds a Sync start as it bounds a Sync Dial (the dialer then
// stays not started, and Start may be tried again); other options are
// ignored.
func (d *Dialer) Start(mode StartMode, opts ...EndpointOption) error {
	var ec endpointConfig
	for _, o := range opts {
		o.applyEndpoint(&ec)
	}
	op := "sockets: start dialer " + d.url
	return d.s.control(op, func() error {
		prev := d.State()
		switch prev {
		case Closed:
			return errNotFound(op)
		case Started:
			return &nanoact.Error{Code: nanoact.CodeState, Op: op}
		}
		if mode == Later {
			mode = Async
		}
		orig := d.mopts
		bounded := func() bool { return true }
		if ec.ctx != nil && mode == Sync {
			if err := nanoact.FromContext(ec.ctx, op); err != nil {
				return err
			}
			if _, ok := orig[transport.OptionContext]; ok {
				// This attempt ends with the socket or with ec.ctx; once it
				// succeeded, only with the socket (as in Dial).
				attempt, cancel := context.WithCancel(d.s.life)
				mopts := maps.Clone(orig)
				mopts[transport.OptionContext] = attempt
				if err := d.renew(mopts); err != nil {
					cancel()
					return endpointErr(err, op)
				}
				bounded = context.AfterFunc(ec.ctx, cancel)
			}
		}
		err := d.start(mode)
		if err == nil && !bounded() {
			d.mu.Lock()
			d.state = prev // ended as the dial succeeded: undone below
			d.mu.Unlock()
			err = nanoact.FromContext(ec.ctx, op)
		}
		if nanoact.CodeOf(err) == nanoact.CodeConnRefused {
			d.stats.refused.Add(1)
		}
		if err != nil && mode == Sync {
			// mangos keeps a failed synchronous dialer marked active; make a
			// fresh one so that Start can be tried again.
			_ = d.renew(orig)
			if ec.ctx != nil && ec.ctx.Err() != nil {
				return nanoact.FromContext(ec.ctx, op)
			}
		}
		return err
	})
}

// renew replaces d's mangos dialer, not started, by one made with mopts.
// It runs in the socket actor.
func (d *Dialer) renew(mopts map[string]any) error {
	murl, _ := transport.Rewrite(d.url)
	md, err := d.s.ms.NewDialer(murl, mopts)
	if err != nil {
		return err
	}
	old := d.md
	d.s.mu.Lock()
	d.md, d.mopts = md, mopts
	d.s.mu.Unlock()
	_ = old.Close()
	return nil
}

// Close stops the dialer and closes the connection it made. A closed
// dialer gives ErrNotFound, as NNG.
func (d *Dialer) Close() error {
	op := "sockets: close dialer " + d.url
	var err error
	cerr := d.s.control(op, func() error {
		if !d.close() {
			err = errNotFound(op)
		}
		d.s.removeDialer(d)
		return nil
	})
	if cerr != nil && err == nil {
		// The socket is closing: it closes the dialer itself.
		if !d.markClosed() {
			return errNotFound(op)
		}
		return nil
	}
	return err
}

// close runs in the socket actor; false if already closed.
func (d *Dialer) close() bool {
	if !d.markClosed() {
		return false
	}
	_ = d.md.Close()
	d.closePipes()
	return true
}

// String describes the dialer as nanonext prints it.
func (d *Dialer) String() string {
	return fmt.Sprintf("< nanoDialer >\n - id: %d\n - socket: %d\n - state: %s\n - url: %s\n", d.id, d.s.id, d.State(), d.url)
}

// transportEvents receives faults from nanoact's transports. Every fault
// is counted; log lines go through rate (see limits.go).
type transportEvents struct {
	s    *Socket
	rate *transport.LogRate
}

func (e transportEvents) OnOversize(url, remote string, size uint64, limit int) {
	e.s.oversize.Add(1)
	if !e.allow() {
		return
	}
	e.s.log.Warn("message over recv-size-max: connection closed",
		zap.String("url", url), zap.String("remote", remote), zap.Uint64("size", size), zap.Int("limit", limit))
}

func (e transportEvents) OnHandshakeFail(url, remote string, err error) {
	e.s.rejects.Add(1)
	e.s.endpointByURL(url, func(ep *endpoint) { ep.stats.reject.Add(1) })
	if !e.allow() {
		return
	}
	e.s.log.Warn("connection rejected in SP handshake",
		zap.String("url", url), zap.String("remote", remote), zap.Error(err))
}

// endpointByURL calls fn with the dialer or listener whose URL is url.
func (s *Socket) endpointByURL(url string, fn func(*endpoint)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dialers {
		if d.url == url {
			fn(&d.endpoint)
			return
		}
	}
	for _, l := range s.listeners {
		if l.URL() == url {
			fn(&l.endpoint)
			return
		}
	}
}
