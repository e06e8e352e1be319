package transport

import (
	"net"

	"github.com/nanoact/nanoact"
)

// StreamAddr validates url as Rewrite does and returns the arguments of
// net.Dial or net.Listen for a plain byte stream to it: ("tcp", "host:port"),
// ("unix", "/path") or, for abstract://, ("unix", "@name"). ws:// and wss://
// are returned as ("ws", url) and ("wss", url) for a websocket library.
// inproc:// and tls+tcp:// streams are not supported (NNG: only the URL
// schemes of its stream drivers).
func StreamAddr(url string) (network, address string, err error) {
	u, err := parseURL(url)
	if err != nil {
		return "", "", err
	}
	if !knownScheme(u.scheme) {
		return "", "", urlErr(nanoact.CodeNotSupported, url, "no transport for scheme %q", u.scheme)
	}
	switch u.scheme {
	case "tcp", "tcp4", "tcp6":
		if err := checkTCP(u, url); err != nil {
			return "", "", err
		}
		if u.port == "" {
			return "", "", urlErr(nanoact.CodeAddrInvalid, url, "no port")
		}
		return u.scheme, net.JoinHostPort(u.hostname, u.port), nil
	case "ipc", "unix":
		p, err := ipcPath(u, url)
		return "unix", p, err
	case "abstract":
		n, err := abstractName(u, url)
		return "unix", "@" + n, err
	case "ws", "wss":
		return u.scheme, u.scheme + "://" + u.rest, nil
	}
	return "", "", urlErr(nanoact.CodeNotSupported, url, "%s:// has no byte streams", u.scheme)
}
