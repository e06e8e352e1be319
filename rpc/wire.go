package rpc

import (
	"encoding/binary"
	"errors"
	"math"
	"unicode/utf8"
)

// The wire protocol is documented in the package doc (doc.go).

// Message kinds.
const (
	kindHello  = 1
	kindTask   = 2
	kindCancel = 3
	kindResult = 4
	kindRefuse = 5
	kindLeave  = 6
	kindBye    = 7
)

// wireVersion is the protocol version sent in hello.
const wireVersion = 1

// frame is a decoded message; which fields are set depends on kind. Byte
// and text fields alias the message body they were decoded from.
type frame struct {
	kind    uint64
	id      uint64 // task, cancel, result
	version uint64 // hello
	token   string // hello
	daemon  string // hello: daemon id
	max     uint64 // hello
	tasks   uint64 // hello
	name    string // task
	args    []byte // task
	timeout uint64 // task, ns
	value   []byte // result (nil when the task failed)
	hasErr  bool   // result
	code    uint64 // result error code
	text    string // result error text, panic value, refuse reason
	panic   bool   // result
	stack   string // result panic stack
}

var errFrame = errors.New("malformed task-runner message")

// CBOR major types.
const (
	majUint  = 0
	majBytes = 2
	majText  = 3
	majArray = 4
	cborNull = 0xf6
)

func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, m|27), n)
	}
}

func appendUint(b []byte, n uint64) []byte { return appendHead(b, majUint, n) }

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majText, uint64(len(s))), s...)
}

func appendBytes(b []byte, p []byte) []byte {
	return append(appendHead(b, majBytes, uint64(len(p))), p...)
}

func appendHello(b []byte, token, id string, max, tasks int) []byte {
	b = appendHead(b, majArray, 6)
	b = appendUint(b, kindHello)
	b = appendUint(b, wireVersion)
	b = appendText(b, token)
	b = appendText(b, id)
	b = appendUint(b, uint64(max))
	return appendUint(b, uint64(tasks))
}

// appendTask encodes a task message.
func appendTask(b []byte, id uint64, name string, args []byte, timeout uint64) []byte {
	b = appendHead(b, majArray, 5)
	b = appendUint(b, kindTask)
	b = appendUint(b, id)
	b = appendText(b, name)
	b = appendBytes(b, args)
	return appendUint(b, timeout)
}

func appendCancel(b []byte, id uint64) []byte {
	b = appendHead(b, majArray, 2)
	b = appendUint(b, kindCancel)
	return appendUint(b, id)
}

// appendResult encodes a result: value on success, or code and text for an
// error, or panic value and stack.
func appendResult(b []byte, id uint64, value []byte, code uint64, text string, isPanic bool, stack string) []byte {
	b = appendHead(b, majArray, 5)
	b = appendUint(b, kindResult)
	b = appendUint(b, id)
	switch {
	case isPanic:
		b = append(b, cborNull, cborNull)
		b = appendHead(b, majArray, 2)
		b = appendText(b, text)
		return appendText(b, stack)
	case code != 0:
		b = append(b, cborNull)
		b = appendHead(b, majArray, 2)
		b = appendUint(b, code)
		b = appendText(b, text)
		return append(b, cborNull)
	default:
		b = appendBytes(b, value)
		return append(b, cborNull, cborNull)
	}
}

func appendRefuse(b []byte, reason string) []byte {
	b = appendHead(b, majArray, 2)
	b = appendUint(b, kindRefuse)
	return appendText(b, reason)
}

func appendSimple(b []byte, kind uint64) []byte {
	b = appendHead(b, majArray, 1)
	return appendUint(b, kind)
}

// reader decodes the subset of CBOR the protocol uses: definite-length
// heads only.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) head() (major byte, n uint64) {
	if r.err || len(r.b) == 0 {
		r.err = true
		return 0, 0
	}
	c := r.b[0]
	major, info := c>>5, c&31
	r.b = r.b[1:]
	switch {
	case info < 24:
		return major, uint64(info)
	case info == 24 && len(r.b) >= 1:
		n, r.b = uint64(r.b[0]), r.b[1:]
	case info == 25 && len(r.b) >= 2:
		n, r.b = uint64(binary.BigEndian.Uint16(r.b)), r.b[2:]
	case info == 26 && len(r.b) >= 4:
		n, r.b = uint64(binary.BigEndian.Uint32(r.b)), r.b[4:]
	case info == 27 && len(r.b) >= 8:
		n, r.b = binary.BigEndian.Uint64(r.b), r.b[8:]
	default:
		r.err = true
		return 0, 0
	}
	return major, n
}

func (r *reader) uint() uint64 {
	major, n := r.head()
	if major != majUint {
		r.err = true
		return 0
	}
	return n
}

func (r *reader) array() uint64 {
	major, n := r.head()
	if major != majArray {
		r.err = true
		return 0
	}
	return n
}

func (r *reader) raw(want byte) []byte {
	major, n := r.head()
	if r.err || major != want || n > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) bytes() []byte { return r.raw(majBytes) }

func (r *reader) text() string {
	p := r.raw(majText)
	if r.err || !utf8.Valid(p) {
		r.err = true
		return ""
	}
	return string(p)
}

// null consumes a CBOR null and reports whether there was one.
func (r *reader) null() bool {
	if !r.err && len(r.b) > 0 && r.b[0] == cborNull {
		r.b = r.b[1:]
		return true
	}
	return false
}

// frameLen is the number of elements a message of kind has (at least).
func frameLen(kind uint64) uint64 {
	switch kind {
	case kindHello:
		return 6
	case kindTask, kindResult:
		return 5
	case kindCancel, kindRefuse:
		return 2
	}
	return 1
}

// decodeFrame decodes one message. Elements after those the kind defines
// are ignored, for later versions; a message of an unknown kind decodes
// with only kind set.
func decodeFrame(body []byte) (frame, error) {
	r := reader{b: body}
	var f frame
	n := r.array()
	if n < 1 {
		return f, errFrame
	}
	f.kind = r.uint()
	if r.err || n < frameLen(f.kind) {
		return frame{}, errFrame
	}
	switch f.kind {
	case kindHello:
		f.version = r.uint()
		f.token = r.text()
		f.daemon = r.text()
		f.max = r.uint()
		f.tasks = r.uint()
	case kindTask:
		f.id = r.uint()
		f.name = r.text()
		f.args = r.bytes()
		f.timeout = r.uint()
	case kindCancel:
		f.id = r.uint()
	case kindResult:
		f.id = r.uint()
		if !r.null() {
			f.value = r.bytes()
			if f.value == nil && !r.err {
				f.value = []byte{}
			}
		}
		if !r.null() {
			if r.array() < 2 {
				r.err = true
			}
			f.hasErr = true
			f.code = r.uint()
			f.text = r.text()
		}
		if !r.null() {
			if r.array() < 2 {
				r.err = true
			}
			f.panic = true
			f.text = r.text()
			f.stack = r.text()
		}
		set := 0
		for _, b := range []bool{f.value != nil, f.hasErr, f.panic} {
			if b {
				set++
			}
		}
		if set != 1 {
			r.err = true
		}
	case kindRefuse:
		f.text = r.text()
	}
	if r.err {
		return frame{}, errFrame
	}
	return f, nil
}
