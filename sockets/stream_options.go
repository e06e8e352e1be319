package sockets

import (
	"crypto/tls"
	"net"
	"net/http"
	"strings"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
)

// StreamOption configures DialStream and ListenStream.
type StreamOption interface{ applyStream(*streamConfig) }

type streamConfig struct {
	text     bool
	recvSize int
	header   http.Header
	tls      *TLSConfig
}

type streamOptionFunc func(*streamConfig)

func (f streamOptionFunc) applyStream(c *streamConfig) { f(c) }

// TextFrames makes a websocket stream send and expect text frames
// (nanonext's textframes = TRUE). A string is then sent without the
// trailing NUL that Raw mode otherwise adds. No effect on tcp or ipc.
func TextFrames() StreamOption { return streamOptionFunc(func(c *streamConfig) { c.text = true }) }

// RecvSize sets the largest number of bytes one receive returns
// (nanonext's n, default 65536). On tcp and ipc it is the size of one
// read. On a websocket a message longer than n is returned in pieces of at
// most n bytes by successive receives, as NNG's websocket streams deliver
// it, so a receive never returns more than n bytes on any stream. n <= 0
// keeps the default.
func RecvSize(n int) StreamOption {
	return streamOptionFunc(func(c *streamConfig) {
		if n > 0 {
			c.recvSize = n
		}
	})
}

// RequestHeader adds a header to a websocket dial's HTTP request
// (NNG's ws:request-headers).
func RequestHeader(key, value string) StreamOption {
	return streamOptionFunc(func(c *streamConfig) {
		if c.header == nil {
			c.header = http.Header{}
		}
		c.header.Add(key, value)
	})
}

func streamConfigOf(opts []StreamOption) streamConfig {
	c := streamConfig{recvSize: 64 << 10}
	for _, o := range opts {
		o.applyStream(&c)
	}
	return c
}

// The websocket header options of streams (read-only), as NNG's and
// nanonext's opt(stream, ...) read them: header lines "Name: value\r\n".
var (
	// WSRequestHeaders (ws and wss streams; read-only): the HTTP request
	// headers of the upgrade, those sent by a dialled stream and those
	// received by an accepted one (Stream.Header as text).
	WSRequestHeaders = Opt[string]{"ws:request-headers"}
	// WSResponseHeaders (ws and wss streams; read-only): the HTTP response
	// headers of the upgrade a dialled stream received
	// (Stream.ResponseHeader as text); "" on an accepted stream.
	WSResponseHeaders = Opt[string]{"ws:response-headers"}
)

// headerText writes h as HTTP header lines, sorted by name.
func headerText(h http.Header) string {
	var b strings.Builder
	_ = h.Write(&b) // sorted by key; a strings.Builder does not fail
	return b.String()
}

// tcpConn returns the TCP connection under a tcp, ws or wss stream; nil
// for ipc.
func (s *Stream) tcpConn() *net.TCPConn {
	c := s.conn
	if s.ws != nil {
		c = s.ws.UnderlyingConn()
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tc, _ := c.(*net.TCPConn)
	return tc
}

// option implements Optioner for streams: tcp-nodelay and tcp-keepalive
// (write-only) on tcp, ws and wss streams, as NNG's streams take them, and
// the read-only ws:request-headers and ws:response-headers on ws and wss
// streams.
func (s *Stream) option(name string, set bool, v any) (any, error) {
	if name == WSRequestHeaders.name || name == WSResponseHeaders.name {
		switch {
		case s.ws == nil:
			return nil, optErr(nanoact.CodeNotSupported, name, set)
		case set:
			return nil, optErr(nanoact.CodeReadOnly, name, set)
		case name == WSRequestHeaders.name:
			return headerText(s.header), nil
		}
		return headerText(s.respHdr), nil
	}
	tc := s.tcpConn()
	if tc == nil || (name != "tcp-nodelay" && name != "tcp-keepalive") {
		return nil, optErr(nanoact.CodeNotSupported, name, set)
	}
	if !set {
		return nil, optErr(nanoact.CodeWriteOnly, name, set)
	}
	var err error
	if name == "tcp-nodelay" {
		err = tc.SetNoDelay(v.(bool))
	} else {
		err = tc.SetKeepAlive(v.(bool))
	}
	return nil, nngerr.Wrap(err, "sockets: set "+name)
}
