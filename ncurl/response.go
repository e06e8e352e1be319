package ncurl

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
)

// Response is the result of one HTTP transaction. It is the caller's: no
// field is shared with anything else.
type Response struct {
	// Status is the HTTP status code, e.g. 200. StatusText gives its text.
	Status int
	// Headers holds the response headers named by the ResponseHeaders
	// option, keyed by the names as given there; a header the server did not send
	// is absent, so test with v, ok := r.Headers["date"]. Repeated headers
	// are joined with ", ". It is nil when no names were given, except that
	// for a 3xx status from Do, Get or DoAsync "Location" is always looked
	// up (and added under that key unless already asked for).
	Headers map[string]string
	// Data is the response body, always set (empty, not nil, for an empty
	// body).
	Data []byte
	// Text is the body as a string when Converted is true; "" otherwise.
	Text string
	// Converted reports whether Text holds the body: Convert(true) was in
	// effect (the default) and the body obeys nanonext's string rule (no
	// NUL byte, except possibly as the last byte, which Text drops).
	Converted bool
}

// newResponse builds the Response for hr, whose body is body. With
// location, a 3xx status also looks up Location, as ncurl and ncurl_aio
// do (transact does not).
func newResponse(hr *http.Response, body []byte, c *config, location bool) *Response {
	r := &Response{Status: hr.StatusCode, Data: body}
	if r.Data == nil {
		r.Data = []byte{}
	}
	names := c.response
	if location && hr.StatusCode >= 300 && hr.StatusCode < 400 && !containsFold(names, "Location") {
		names = append(names[:len(names):len(names)], "Location")
	}
	if len(names) > 0 {
		r.Headers = make(map[string]string, len(names))
		for _, n := range names {
			if vs := hr.Header.Values(n); len(vs) > 0 {
				r.Headers[n] = strings.Join(vs, ", ")
			}
		}
	}
	if c.convert {
		r.Text, r.Converted = toText(body)
	}
	return r
}

// toText applies nanonext's "string" receive rule: bytes up to the first
// NUL, valid if there is no NUL or the only NUL is the last byte.
func toText(b []byte) (string, bool) {
	switch i := bytes.IndexByte(b, 0); i {
	case -1:
		return string(b), true
	case len(b) - 1:
		return string(b[:i]), true
	default:
		return "", false
	}
}

func containsFold(names []string, s string) bool {
	for _, n := range names {
		if strings.EqualFold(n, s) {
			return true
		}
	}
	return false
}

// StatusError is the rejection of a Call's promise whose response has a
// status other than 200 (nanonext's promise rule). Do, Get, Transact and
// Call.Value never return it: for them a status is data, not an error.
type StatusError struct {
	// Response is the whole response, body included.
	Response *Response
}

// Error returns "ncurl: " and the status as StatusText gives it, e.g.
// "ncurl: 404 | Not Found".
func (e *StatusError) Error() string {
	return "ncurl: " + StatusText(e.Response.Status)
}

// StatusText returns code and its reason phrase as nanonext's status_code
// prints them, e.g. "200 | OK" or "404 | Not Found"; a code outside
// nanonext's table (RFC 9110 and common extensions) gives, for example,
// "600 | Unknown HTTP Status". It does not allocate for known codes beyond
// the result string.
func StatusText(code int) string {
	t, ok := statusText[code]
	if !ok {
		t = "Unknown HTTP Status"
	}
	return strconv.Itoa(code) + " | " + t
}

// statusText is nanonext's table (src/utils.c), which differs from
// net/http's in places (306 Switch Proxy, 413 Payload Too Large, 422
// Unprocessable Entity) and omits some of its codes.
var statusText = map[int]string{
	100: "Continue",
	101: "Switching Protocols",
	102: "Processing",
	103: "Early Hints",
	200: "OK",
	201: "Created",
	202: "Accepted",
	203: "Non-Authoritative Information",
	204: "No Content",
	205: "Reset Content",
	206: "Partial Content",
	207: "Multi-Status",
	208: "Already Reported",
	226: "IM Used",
	300: "Multiple Choices",
	301: "Moved Permanently",
	302: "Found",
	303: "See Other",
	304: "Not Modified",
	305: "Use Proxy",
	306: "Switch Proxy",
	307: "Temporary Redirect",
	308: "Permanent Redirect",
	400: "Bad Request",
	401: "Unauthorized",
	402: "Payment Required",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	406: "Not Acceptable",
	407: "Proxy Authentication Required",
	408: "Request Timeout",
	409: "Conflict",
	410: "Gone",
	411: "Length Required",
	412: "Precondition Failed",
	413: "Payload Too Large",
	414: "URI Too Long",
	415: "Unsupported Media Type",
	416: "Range Not Satisfiable",
	417: "Expectation Failed",
	418: "I'm a teapot",
	421: "Misdirected Request",
	422: "Unprocessable Entity",
	423: "Locked",
	424: "Failed Dependency",
	425: "Too Early",
	426: "Upgrade Required",
	428: "Precondition Required",
	429: "Too Many Requests",
	431: "Request Header Fields Too Large",
	451: "Unavailable For Legal Reasons",
	500: "Internal Server Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Gateway Timeout",
	505: "HTTP Version Not Supported",
	506: "Variant Also Negotiates",
	507: "Insufficient Storage",
	508: "Loop Detected",
	510: "Not Extended",
	511: "Network Authentication Required",
}
