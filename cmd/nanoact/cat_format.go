package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/nanoact/nanoact/sockets"
)

// catPrinter writes received messages in one of cat's formats, each
// message with one Write, as nngcat flushes after each.
type catPrinter struct {
	format catFormat
	out    io.Writer
	errOut io.Writer
	buf    []byte
}

// print writes m's body; a write error (a closed pipe) ends the command.
// In the serial format a body that is not CBOR is reported on errOut and
// skipped.
func (p *catPrinter) print(m *sockets.Msg) error {
	if p.format == formatSerial {
		v, err := sockets.Decode[any](m, sockets.Serial, nil)
		if err != nil {
			fmt.Fprintf(p.errOut, "nanoact: cat: skipped a message of %d bytes: not serial (CBOR) data: %v\n", len(m.Body), errors.Unwrap(err))
			return nil
		}
		p.buf = fmt.Appendf(p.buf[:0], "%v\n", v)
	} else {
		p.buf = appendCatFormat(p.buf[:0], p.format, m.Body)
	}
	if len(p.buf) == 0 {
		return nil
	}
	_, err := p.out.Write(p.buf)
	return err
}

// appendCatFormat appends body to dst formatted as nngcat's printmsg does
// (formats unset and no print nothing). Printable means C's isprint in the
// C locale: bytes 0x20 to 0x7e.
func appendCatFormat(dst []byte, f catFormat, body []byte) []byte {
	const hex = "0123456789abcdef"
	printable := func(c byte) bool { return c >= 0x20 && c <= 0x7e }
	switch f {
	case formatRaw:
		dst = append(dst, body...)
	case formatASCII:
		for _, c := range body {
			if !printable(c) {
				c = '.'
			}
			dst = append(dst, c)
		}
	case formatQuoted:
		dst = append(dst, '"')
		for _, c := range body {
			switch {
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case printable(c):
				dst = append(dst, c)
			default:
				dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
			}
		}
		dst = append(dst, '"', '\n')
	case formatHex:
		dst = append(dst, '"')
		for _, c := range body {
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
		}
		dst = append(dst, '"', '\n')
	case formatMsgpack:
		// A msgpack bin 8, 16 or 32 header, then the bytes. Written by
		// hand: it is the whole format here, and a msgpack library would
		// encode an empty (nil) body as msgpack nil (0xc0) where nngcat
		// writes an empty bin (0xc4 0x00).
		n := len(body)
		switch {
		case n < 1<<8:
			dst = append(dst, 0xc4, byte(n))
		case n < 1<<16:
			dst = append(dst, 0xc5, byte(n>>8), byte(n))
		default:
			dst = append(dst, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		}
		dst = append(dst, body...)
	}
	return dst
}
