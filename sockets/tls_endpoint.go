package sockets

import (
	"crypto/tls"
	"net"
	"net/url"
	"strings"

	"go.nanomsg.org/mangos/v3"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// WithTLS makes cfg the TLS config of the socket's tls+tcp:// and wss://
// endpoints that are not given one with TLS: those of New's Dial and
// Listen options and those made later (nanonext's socket(tls = )). A
// client config serves dialers and a server config listeners; give
// WithTLS twice, once with each, for a socket that both dials and listens
// over TLS. Endpoints of other transports ignore it. nil is ignored.
func WithTLS(cfg *TLSConfig) Option {
	return optionFunc(func(c *config) {
		switch {
		case cfg == nil:
		case cfg.server:
			c.tlsServer = cfg
		default:
			c.tlsClient = cfg
		}
	})
}

// TLS gives one dialer (a client config) or listener (a server config) its
// TLS config, overriding the socket's (see WithTLS), and is the TLS config
// of a wss:// stream: a client config for DialStream (without one, the
// server is verified against the system's roots), a server config for
// ListenStream (required there). Dialing or listening fails with
// ErrNotSupported if the URL is not tls+tcp:// or wss:// (a wss:// stream
// for streams), and with ErrInvalid if cfg is of the wrong kind or a zero
// TLSConfig. A tls+tcp:// or wss:// URL with no config at all fails with
// ErrInvalid. nil is ignored.
//
// It is one value for both, as every option shared by several calls is:
// the house rule is WithX for what a constructor (New) takes, a plain name
// for what one call (Dial, Listen, DialStream, ListenStream) takes.
func TLS(cfg *TLSConfig) TLSOptionValue { return TLSOptionValue{cfg} }

// TLSOptionValue is what TLS returns: an EndpointOption and a
// StreamOption at once.
type TLSOptionValue struct{ cfg *TLSConfig }

func (t TLSOptionValue) applyEndpoint(c *endpointConfig) {
	if t.cfg != nil {
		c.tls = t.cfg
	}
}

func (t TLSOptionValue) applyStream(c *streamConfig) { c.tls = t.cfg }

// endpointOptions returns the mangos transport options for the dialer
// (dialer true) or listener of murl, the URL transport.Rewrite made: those
// of transportOptions, plus the crypto/tls config of a tls+tcp or wss URL.
// given is the endpoint's TLS config, if any.
func (s *Socket) endpointOptions(op, murl string, given *TLSConfig, dialer bool) (map[string]any, error) {
	opts := s.transportOptions(murl)
	scheme, rest, _ := strings.Cut(murl, "://")
	scheme = strings.TrimPrefix(scheme, "nanoact.") // the user's scheme
	if !tlsScheme(scheme) {
		if given != nil {
			return nil, nanoact.Errorf(nanoact.CodeNotSupported, op, "TLS needs a tls+tcp:// or wss:// URL, not %s://", scheme)
		}
		return opts, nil
	}
	cfg := given
	if cfg == nil {
		cfg = s.cfg.tlsServer
		if dialer {
			cfg = s.cfg.tlsClient
		}
	}
	ep, kind := "listener", "server"
	if dialer {
		ep, kind = "dialer", "client"
	}
	if cfg == nil {
		return nil, nanoact.Errorf(nanoact.CodeInvalid, op, "a %s:// %s needs a TLS %s config: give TLS or WithTLS", scheme, ep, kind)
	}
	if err := cfg.check(op, !dialer); err != nil {
		return nil, err
	}
	var tc *tls.Config
	if dialer {
		url := scheme + "://" + rest
		tc = cfg.clientConfig(urlHost(scheme, rest), func(err error) {
			s.log.Warn("tls: server certificate not verified (auth mode optional)", zap.String("url", url), zap.Error(err))
		})
	} else {
		tc = cfg.serverConfig()
	}
	if opts == nil {
		opts = make(map[string]any, 1)
	}
	opts[mangos.OptionTLSConfig] = tc
	return opts, nil
}

// tlsScheme reports whether a user scheme runs over TLS: tls+tcp and wss,
// and their 4 and 6 variants.
func tlsScheme(scheme string) bool {
	switch scheme {
	case "tls+tcp", "tls+tcp4", "tls+tcp6", "wss", "wss4", "wss6":
		return true
	}
	return false
}

// urlHost returns the host name of a tls+tcp or wss URL without its
// scheme (user or private), without brackets; "" if there is none.
func urlHost(scheme, rest string) string {
	if strings.HasPrefix(strings.TrimPrefix(scheme, "nanoact."), "wss") {
		u, err := url.Parse("wss://" + rest)
		if err != nil {
			return ""
		}
		return u.Hostname()
	}
	host, _, err := net.SplitHostPort(strings.TrimSuffix(rest, "/"))
	if err != nil {
		return ""
	}
	return host
}
