package sockets

import (
	"errors"

	"github.com/nanoact/nanoact"

	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/internal/transport"
)

// ParsedURL is an NNG URL split into its parts, as nanonext's parse_url() and
// NNG's nng_url_parse give them. A part that is absent is "".
type ParsedURL struct {
	// Raw is the URL as given.
	Raw string
	// Scheme is the text before "://", lower-cased ("tcp", "wss",
	// "inproc").
	Scheme string
	// Userinfo is what comes before "@" in the authority ("user:pass").
	Userinfo string
	// Host is the authority without the user part, lower-cased, with the
	// port only if one was written ("127.0.0.1:5555", "[::1]:80"). A
	// leading "*" (all interfaces) is removed.
	Host string
	// Hostname is Host without the port and without IPv6 brackets
	// ("::1").
	Hostname string
	// Port is the port as written, or else the scheme's default as NNG
	// has it: 80 for ws and http, 443 for wss and https, 22 ssh, 23
	// telnet, 70 gopher, 9418 git (and their 4 and 6 variants); "" for
	// the others (tcp has none).
	Port string
	// Path is the path, canonicalised as NNG does: escapes of unreserved
	// characters decoded, "//" collapsed, "." and ".." segments resolved.
	// For ipc, unix, abstract and inproc it is everything after "://",
	// verbatim, and the host fields are empty.
	Path string
	// Query is the text after "?", up to "#".
	Query string
	// Fragment is the text after "#".
	Fragment string
	// RequestURI is the canonical path with its query and fragment, what
	// a websocket dialer asks for; "" for ipc, unix, abstract and inproc.
	RequestURI string
}

// String returns the URL as it was given.
func (u ParsedURL) String() string { return u.Raw }

// ParseURL splits an NNG URL into its parts the way NNG (and so
// nanonext's parse_url) does, which differs from net/url: the host is
// lower-cased, ws and wss get their default ports, the path is
// canonicalised, "*" means all interfaces, and ipc, unix, abstract and
// inproc URLs are a path only. It accepts any scheme (whether a transport
// exists for it is checked by Dial and Listen) and does no name lookup.
// It does not block and allocates a few strings.
//
// Errors: ErrInvalid (as NNG's NNG_EINVAL) for a URL without "://", with
// two "@", a malformed or non-UTF-8 escape in the path, an unterminated
// "[", text after "]" other than a port, or an empty port ("host:").
func ParseURL(raw string) (ParsedURL, error) {
	u, err := transport.ParseURL(raw)
	if err != nil {
		var e *nanoact.Error
		if errors.As(err, &e) {
			return ParsedURL{}, &nanoact.Error{Code: e.Code, Op: "sockets: parse url " + raw, Err: e.Err}
		}
		return ParsedURL{}, nngerr.Wrap(err, "sockets: parse url "+raw)
	}
	return ParsedURL(u), nil
}
