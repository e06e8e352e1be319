// Package httptoken checks HTTP tokens (RFC 9110 §5.6.2), the syntax of
// methods and header names, for the HTTP client (ncurl) and server (httpd).
package httptoken

import "strings"

// Valid reports whether s is a non-empty HTTP token. It does not allocate.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}
