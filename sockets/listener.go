package sockets

import (
	"fmt"
	"strings"

	"go.nanomsg.org/mangos/v3"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// Listener accepts connections for its socket at a URL. It is safe for
// concurrent use. Closing the socket closes it.
type Listener struct {
	endpoint
	ml mangos.Listener
}

// Listen creates a listener for url and, unless the Later option is given,
// binds it at once (Async and Sync are the same for listeners). A listener
// on tcp://127.0.0.1:0 binds a free port; URL reports it.
//
// tls+tcp:// and wss:// listeners need a server TLS config (TLS or
// the socket's WithTLS option); a tls+tcp listener on port 0 reports its port
// in URL too.
//
// Errors: ErrInvalid (no "://"; a TLS URL without a server TLS config),
// ErrNotSupported (unknown scheme; TLS on a URL without TLS),
// ErrAddrInvalid (bad host or port), ErrAddrInUse, ErrClosed.
func (s *Socket) Listen(url string, opts ...EndpointOption) (*Listener, error) {
	var ec endpointConfig
	for _, o := range opts {
		o.applyEndpoint(&ec)
	}
	op := "sockets: listen " + url
	var l *Listener
	err := s.control(op, func() error {
		murl, mopts, err := s.prepareEndpoint(op, url, ec, false)
		if err != nil {
			return err
		}
		ml, err := s.ms.NewListener(murl, mopts)
		if err != nil {
			return endpointErr(err, op)
		}
		l = &Listener{ml: ml}
		l.init(s, url)
		if ec.start != Later {
			if err := l.start(); err != nil {
				_ = ml.Close()
				l = nil
				return err
			}
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, l)
		s.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// start runs in the socket actor.
func (l *Listener) start() error {
	if err := l.ml.Listen(); err != nil {
		return endpointErr(err, "sockets: listen "+l.url)
	}
	l.mu.Lock()
	l.state = Started
	l.url = boundURL(l.url, l.ml.Address())
	l.mu.Unlock()
	l.s.log.Info("listening", zap.String("url", l.url))
	return nil
}

// boundURL returns the URL the listener actually bound: nanoact's own
// transports report the user's scheme with the real port (tcp, tls+tcp,
// ws and wss port 0) or name; inproc keeps the URL as given.
func boundURL(user, bound string) string {
	if bound == "" || !strings.Contains(bound, "://") || strings.HasPrefix(bound, "nanoact.") {
		return user
	}
	if strings.HasPrefix(user, "tcp") || strings.HasPrefix(user, "abstract") || strings.HasPrefix(user, "ws") || strings.HasPrefix(user, "tls+tcp") {
		return bound
	}
	return user
}

// URL returns the listener's URL; for a started tcp listener on port 0 it
// carries the port actually bound.
func (l *Listener) URL() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.url
}

// Start binds a listener created with Later. A started listener gives
// ErrState, a closed one ErrNotFound.
func (l *Listener) Start() error {
	op := "sockets: start listener " + l.url
	return l.s.control(op, func() error {
		switch l.State() {
		case Closed:
			return errNotFound(op)
		case Started:
			return &nanoact.Error{Code: nanoact.CodeState, Op: op}
		}
		return l.start()
	})
}

// Close stops accepting and closes every connection the listener
// accepted. A closed listener gives ErrNotFound, as NNG.
func (l *Listener) Close() error {
	op := "sockets: close listener " + l.url
	var err error
	cerr := l.s.control(op, func() error {
		if !l.close() {
			err = errNotFound(op)
		}
		l.s.mu.Lock()
		for i, x := range l.s.listeners {
			if x == l {
				l.s.listeners = append(l.s.listeners[:i], l.s.listeners[i+1:]...)
				break
			}
		}
		l.s.mu.Unlock()
		return nil
	})
	if cerr != nil && err == nil {
		if !l.markClosed() {
			return errNotFound(op)
		}
	}
	return err
}

// close runs in the socket actor; false if already closed.
func (l *Listener) close() bool {
	if !l.markClosed() {
		return false
	}
	_ = l.ml.Close()
	l.closePipes()
	return true
}

// String describes the listener as nanonext prints it.
func (l *Listener) String() string {
	return fmt.Sprintf("< nanoListener >\n - id: %d\n - socket: %d\n - state: %s\n - url: %s\n", l.id, l.s.id, l.State(), l.URL())
}
