package transport

import (
	"net"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nanoact/nanoact"
)

// privatePrefix turns a user scheme into the scheme this package registers
// with mangos: "tcp" becomes "nanoact.tcp".
const privatePrefix = "nanoact."

// maxPathLen is the longest ipc path or abstract name NNG accepts: a
// sockaddr_un holds 108 bytes and NNG keeps one for the terminating NUL.
const maxPathLen = 107

// nngURL is a URL split the way NNG's nni_url_parse splits it. Only the
// parts the stream transports look at are kept.
type nngURL struct {
	scheme   string // lower case
	rest     string // everything after "://", verbatim
	userinfo string // before "@", verbatim
	host     string // lower case, "*" removed, with the port if one was written
	hostname string // lower case, without brackets, "*" removed
	port     string // "" when absent
	path     string // canonical path; the whole rest for ipc, unix, abstract, inproc
	requri   string // canonical path and query, without the fragment (ws)
	query    string // after "?", up to "#"
	fragment string // after "#"
	hasUser  bool
	hasQuery bool
	hasFrag  bool
}

// URL is an NNG URL split into the parts NNG's nni_url_parse (and
// nanonext's parse_url) give; a part that is absent is "".
type URL struct {
	Raw        string // the URL as given
	Scheme     string // lower case
	Userinfo   string // before "@" in the authority
	Host       string // lower case, with the port if one was written
	Hostname   string // lower case, IPv6 brackets removed
	Port       string // as written, else the scheme's default (ws 80, wss 443, ...)
	Path       string // canonical: safe escapes decoded, "//", "." and ".." resolved
	Query      string // after "?", up to "#"
	Fragment   string // after "#"
	RequestURI string // path, "?" query and "#" fragment
}

// ParseURL splits raw as NNG's nni_url_parse does, without checking that
// a transport exists for its scheme (Rewrite does that). For ipc, unix,
// abstract and inproc everything after "://" is the path. Errors:
// CodeInvalid where NNG returns NNG_EINVAL (no "://", a second "@", a bad
// escape or invalid UTF-8 in the path, an unterminated "[", junk after
// "]", an empty port).
func ParseURL(raw string) (URL, error) {
	u, err := parseURL(raw)
	if err != nil {
		return URL{}, err
	}
	out := URL{Raw: raw, Scheme: u.scheme, Userinfo: u.userinfo, Host: u.host, Hostname: u.hostname,
		Port: u.port, Path: u.path, Query: u.query, Fragment: u.fragment}
	switch u.scheme {
	case "ipc", "unix", "abstract", "inproc":
	default:
		out.RequestURI = u.path
		if u.hasQuery {
			out.RequestURI += "?" + u.query
		}
		if u.hasFrag {
			out.RequestURI += "#" + u.fragment
		}
	}
	return out, nil
}

// knownScheme reports whether a user scheme has one of our transports:
// every scheme Rewrite accepts is mapped to a private one.
func knownScheme(scheme string) bool {
	switch scheme {
	case "tcp", "tcp4", "tcp6", "ipc", "unix", "abstract",
		"tls+tcp", "tls+tcp4", "tls+tcp6",
		"ws", "ws4", "ws6", "wss", "wss4", "wss6", "inproc":
		return true
	}
	return false
}

// Rewrite validates url the way NNG 1.5 does and returns the URL to give
// mangos' Socket.Dial, Socket.Listen, NewDialer or NewListener.
//
// tcp://, ipc://, unix://, abstract://, tls+tcp://, ws://, wss:// (and
// the 4 and 6 variants tcp4://, tls+tcp6://, ws4:// and so on, which keep
// to IPv4 or IPv6) and inproc:// are mapped to this package's private
// schemes (nanoact.tcp://, nanoact.tls+tcp://, nanoact.ws://,
// nanoact.inproc:// and so on, registered by Register), so that the rest
// of the process keeps mangos' own transports. An inproc name is taken
// verbatim: any string, the empty one included, as in NNG.
//
// tls+tcp URLs follow the tcp rules (host and port only). ws and wss URLs
// are ws://host:port/path as in NNG: the port defaults to 80 (ws) or 443
// (wss), the path (canonicalised as NNG does, "/" when empty) selects the
// listener on a shared port, and a query is sent with the dialer's
// request.
//
// Rewrite does not resolve host names; that happens in NewListener (once,
// as NNG does) and in every Dial. A port given by name ("http") is looked
// up in the system's services database. Checks that depend on the
// direction (a dialer needs both a host and a port, a listener may leave
// the host empty or "*") are made by the dialer and listener. A dialer
// also accepts NNG's source-address form tcp://src;host:port.
//
// Errors are *nanoact.Error values:
//   - CodeInvalid: no "://", a malformed percent escape, invalid UTF-8, an
//     unterminated IPv6 bracket or a colon without a port (NNG_EINVAL);
//   - CodeNotSupported: a scheme with no transport (NNG_ENOTSUP), or
//     abstract:// on a system without abstract sockets;
//   - CodeAddrInvalid: a tcp or tls+tcp URL with a path, query, fragment
//     or user, no host and no port, or a bad port; a ws or wss URL with a
//     bad port; an empty or too long ipc path; a bad abstract name
//     (NNG_EADDRINVAL).
func Rewrite(url string) (mangosURL string, err error) {
	u, err := parseURL(url)
	if err != nil {
		return "", err
	}
	if !knownScheme(u.scheme) {
		return "", urlErr(nanoact.CodeNotSupported, url, "no transport for scheme %q", u.scheme)
	}
	switch u.scheme {
	case "tcp", "tcp4", "tcp6", "tls+tcp", "tls+tcp4", "tls+tcp6":
		if err := checkTCP(u, url); err != nil {
			return "", err
		}
		if u.hostname == "" && u.port == "" {
			return "", urlErr(nanoact.CodeAddrInvalid, url, "no host and no port")
		}
	case "ws", "ws4", "ws6", "wss", "wss4", "wss6":
		if err := checkWS(u, url); err != nil {
			return "", err
		}
	case "ipc", "unix":
		if _, err := ipcPath(u, url); err != nil {
			return "", err
		}
	case "abstract":
		if _, err := abstractName(u, url); err != nil {
			return "", err
		}
	}
	return privatePrefix + u.scheme + "://" + u.rest, nil
}

func urlErr(c nanoact.Code, url, format string, args ...any) *nanoact.Error {
	return nanoact.Errorf(c, "transport: url "+url, format, args...)
}

// parseURL is NNG's nni_url_parse. It fails with CodeInvalid where NNG
// returns NNG_EINVAL.
func parseURL(raw string) (*nngURL, error) {
	i := strings.IndexByte(raw, ':')
	if i < 0 || !strings.HasPrefix(raw[i:], "://") {
		return nil, urlErr(nanoact.CodeInvalid, raw, "missing \"://\"")
	}
	u := &nngURL{scheme: asciiLower(raw[:i]), rest: raw[i+3:]}
	s := u.rest
	switch u.scheme {
	case "ipc", "unix", "abstract", "inproc":
		// These carry a path or a name, never a host.
		u.path = s
		return u, nil
	}

	// The host part ends at a path, query, fragment or the end, and may
	// start with "user@".
	n := 0
	for n < len(s) && s[n] != '/' && s[n] != '?' && s[n] != '#' {
		if s[n] == '@' {
			if u.hasUser {
				return nil, urlErr(nanoact.CodeInvalid, raw, "two user parts")
			}
			u.hasUser = true
			u.userinfo = s[:n]
			s = s[n+1:]
			n = 0
			continue
		}
		n++
	}
	// A host of "*" is nanomsg's wildcard: all interfaces.
	if (n == 1 && s[0] == '*') || (n > 1 && strings.HasPrefix(s, "*:")) {
		s = s[1:]
		n--
	}
	host := asciiLower(s[:n])
	u.host = host
	requri, ok := canonifyURI(s[n:])
	if !ok {
		return nil, urlErr(nanoact.CodeInvalid, raw, "malformed path")
	}
	u.path = requri
	u.requri = requri
	if j := strings.IndexByte(requri, '#'); j >= 0 {
		u.requri = requri[:j]
	}
	if j := strings.IndexAny(requri, "?#"); j >= 0 {
		u.path = requri[:j]
		u.hasQuery = requri[j] == '?'
		u.hasFrag = strings.IndexByte(requri[j:], '#') >= 0
		rest := requri[j:]
		if f := strings.IndexByte(rest, '#'); f >= 0 {
			u.fragment = rest[f+1:]
			rest = rest[:f]
		}
		u.query = strings.TrimPrefix(rest, "?")
	}

	var rem string
	if strings.HasPrefix(host, "[") {
		j := strings.IndexByte(host, ']')
		if j < 0 {
			return nil, urlErr(nanoact.CodeInvalid, raw, "unterminated '['")
		}
		u.hostname = host[1:j]
		rem = host[j+1:]
		if rem != "" && rem[0] != ':' {
			return nil, urlErr(nanoact.CodeInvalid, raw, "junk after ']'")
		}
	} else if j := strings.IndexByte(host, ':'); j >= 0 {
		u.hostname, rem = host[:j], host[j:]
	} else {
		u.hostname = host
	}
	if rem != "" {
		if rem == ":" {
			return nil, urlErr(nanoact.CodeInvalid, raw, "empty port")
		}
		u.port = rem[1:]
	} else {
		u.port = defaultPort(u.scheme)
	}
	return u, nil
}

// defaultPort is nni_url_default_port, optionally suffixed by 4 or 6:
// only ws and wss among our transports have one.
func defaultPort(scheme string) string {
	base := strings.TrimRight(scheme, "46")
	if len(scheme)-len(base) > 1 {
		return ""
	}
	switch base {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	case "git":
		return "9418"
	case "gopher":
		return "70"
	case "ssh":
		return "22"
	case "telnet":
		return "23"
	}
	return ""
}

// canonifyURI is NNG's url_canonify_uri: decode %XX for unreserved
// characters and high bytes, collapse repeated slashes and remove dot
// segments in the path, then insist on valid UTF-8.
func canonifyURI(in string) (string, bool) {
	// Pass 1: percent decoding of the safe characters.
	var b strings.Builder
	b.Grow(len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(in) || !isHex(in[i+1]) || !isHex(in[i+2]) {
			return "", false
		}
		v := hexVal(in[i+1])<<4 | hexVal(in[i+2])
		switch {
		case v >= 'A' && v <= 'Z', v >= 'a' && v <= 'z', v >= '0' && v <= '9',
			v == '.', v == '~', v == '_', v == '-', v >= 0x80:
			b.WriteByte(v)
		default:
			b.WriteByte('%')
			b.WriteByte(asciiUpper(in[i+1]))
			b.WriteByte(asciiUpper(in[i+2]))
		}
		i += 2
	}
	s := b.String()

	// Pass 2: collapse "//" before any query or fragment.
	b.Reset()
	skip := false
	for i := 0; i < len(s); {
		c := s[i]
		if c == '/' && !skip {
			b.WriteByte('/')
			for i < len(s) && s[i] == '/' {
				i++
			}
			continue
		}
		if c == '?' || c == '#' {
			skip = true
		}
		b.WriteByte(c)
		i++
	}
	s = b.String()

	// Pass 3: remove "/." and "/.." segments in the path.
	out := make([]byte, 0, len(s))
	skip = false
	segEnd := func(j int) bool {
		return j >= len(s) || s[j] == '#' || s[j] == '?' || s[j] == '/'
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == '/' && !skip {
			if strings.HasPrefix(s[i:], "/..") && segEnd(i+3) {
				for len(out) > 0 {
					out = out[:len(out)-1]
					if len(out) == 0 || out[len(out)-1] == '/' {
						break
					}
				}
				if len(out) > 0 {
					out = out[:len(out)-1]
				}
				i += 3
				continue
			}
			if strings.HasPrefix(s[i:], "/.") && segEnd(i+2) {
				i += 2
				continue
			}
			out = append(out, '/')
			i++
			continue
		}
		if c == '?' || c == '#' {
			skip = true
		}
		out = append(out, c)
		i++
	}
	if !utf8.Valid(out) {
		return "", false
	}
	return string(out), true
}

// checkTCP applies the URL checks NNG's tcp and tls transports make on
// both dialers and listeners, and validates a non-empty port.
func checkTCP(u *nngURL, url string) error {
	if u.path != "" && u.path != "/" {
		return urlErr(nanoact.CodeAddrInvalid, url, "%s URL with a path", u.scheme)
	}
	if u.hasUser || u.hasQuery || u.hasFrag {
		return urlErr(nanoact.CodeAddrInvalid, url, "%s URL with a user, query or fragment", u.scheme)
	}
	if u.port != "" {
		if _, err := parsePort(u.port); err != nil {
			return urlErr(nanoact.CodeAddrInvalid, url, "%v", err)
		}
	}
	return nil
}

// checkWS validates the port of a ws or wss URL (parseURL has filled in
// the scheme's default when none was given).
func checkWS(u *nngURL, url string) error {
	if _, err := parsePort(u.port); err != nil {
		return urlErr(nanoact.CodeAddrInvalid, url, "%v", err)
	}
	return nil
}

// parsePort accepts a decimal port in 0..65535 or a service name known to
// the system (as getaddrinfo does). The empty string is port 0.
func parsePort(p string) (int, error) {
	if p == "" {
		return 0, nil
	}
	if isDigits(p) {
		n, err := strconv.Atoi(p)
		if err != nil || n > 0xffff {
			return 0, &net.AddrError{Err: "invalid port", Addr: p}
		}
		return n, nil
	}
	return net.LookupPort("tcp", p)
}

// ipcPath returns the filesystem path of an ipc:// or unix:// URL.
func ipcPath(u *nngURL, url string) (string, error) {
	switch {
	case u.path == "":
		return "", urlErr(nanoact.CodeAddrInvalid, url, "empty path")
	case len(u.path) > maxPathLen:
		return "", urlErr(nanoact.CodeAddrInvalid, url, "path longer than %d bytes", maxPathLen)
	case strings.IndexByte(u.path, 0) >= 0:
		return "", urlErr(nanoact.CodeAddrInvalid, url, "path contains NUL")
	}
	return u.path, nil
}

// abstractName returns the decoded name of an abstract:// URL. NNG
// URI-decodes the name, so abstract://a%00b is the three bytes "a\x00b".
// The empty name asks the kernel for an unused one when listening.
func abstractName(u *nngURL, url string) (string, error) {
	if !abstractSupported() {
		return "", urlErr(nanoact.CodeNotSupported, url, "abstract sockets need Linux")
	}
	s := u.path
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", urlErr(nanoact.CodeAddrInvalid, url, "malformed %%-escape")
			}
			c = hexVal(s[i+1])<<4 | hexVal(s[i+2])
			i += 2
		}
		out = append(out, c)
	}
	if len(out) > maxPathLen {
		return "", urlErr(nanoact.CodeAddrInvalid, url, "name longer than %d bytes", maxPathLen)
	}
	return string(out), nil
}

// encodeAbstract percent-encodes every byte of name outside RFC 3986's
// unreserved set, so that the result parses back to name.
func encodeAbstract(name string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func abstractSupported() bool {
	return runtime.GOOS == "linux" || runtime.GOOS == "android"
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func asciiUpper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
