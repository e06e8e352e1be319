package runner

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"unicode/utf8"

	"github.com/nanoact/nanoact/internal/codec"
)

// The wire protocol is documented in the package doc (doc.go).

// Message kinds.
const (
	kindHello     = 1
	kindTask      = 2
	kindCancel    = 3
	kindResult    = 4
	kindRefuse    = 5
	kindLeave     = 6
	kindBye       = 7
	kindChallenge = 8
)

// wireVersion is the protocol version sent in challenge and hello.
// Version 1 sent the token itself in hello; version 2 answers a challenge.
const wireVersion = 2

// nonceSize is the length of a challenge's nonce.
const nonceSize = 32

// helloFrameMax bounds every message a connection may send before its
// hello is accepted (the dispatcher's receive gate), SP header included;
// maxDaemonID bounds a daemon id so that its hello fits.
const (
	helloFrameMax = 4 << 10
	maxDaemonID   = 1 << 10
)

// frameSlack is what a message takes on the wire besides the runner's
// frame: pair v1's 4-byte hop count, with room to spare.
const frameSlack = 64

// frame is a decoded message; which fields are set depends on kind. Byte
// and text fields alias the message body they were decoded from.
type frame struct {
	kind    uint64
	id      uint64 // task, cancel, result
	version uint64 // hello, challenge
	mac     []byte // hello: HMAC-SHA256 of the challenge (helloMAC)
	nonce   []byte // challenge
	limit   uint64 // challenge: the dispatcher's frame limit (0: none)
	daemon  string // hello: daemon id
	max     uint64 // hello
	tasks   uint64 // hello
	name    string // task
	args    []byte // task
	timeout uint64 // task, ns
	task    uint64 // task: the task's id (0: not sent)
	attempt uint64 // task: the attempt's number, from 1 (0: not sent)
	seed    uint64 // task: the task's seed (0: not sent; see seed.go)
	trace   []byte // task: its trace carrier (nil: not sent; see trace.go)
	value   []byte // result (nil when the task failed)
	hasErr  bool   // result
	code    uint64 // result error code; refuse: its code (0: not sent)
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

// appendHead appends a CBOR head in its shortest form.
func appendHead(b []byte, major byte, n uint64) []byte { return codec.AppendHead(b, major, n) }

func appendUint(b []byte, n uint64) []byte { return appendHead(b, majUint, n) }

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majText, uint64(len(s))), s...)
}

func appendBytes(b []byte, p []byte) []byte {
	return append(appendHead(b, majBytes, uint64(len(p))), p...)
}

// appendChallenge encodes the challenge a dispatcher sends first on
// every connection: a fresh nonce and its frame limit.
func appendChallenge(b []byte, nonce []byte, limit uint64) []byte {
	b = appendHead(b, majArray, 4)
	b = appendUint(b, kindChallenge)
	b = appendUint(b, wireVersion)
	b = appendBytes(b, nonce)
	return appendUint(b, limit)
}

// appendHello encodes a daemon's answer to a challenge; mac is
// helloMAC's of the same nonce, id, max and tasks.
func appendHello(b []byte, mac []byte, id string, max, tasks uint64) []byte {
	b = appendHead(b, majArray, 6)
	b = appendUint(b, kindHello)
	b = appendUint(b, wireVersion)
	b = appendBytes(b, mac)
	b = appendText(b, id)
	b = appendUint(b, max)
	return appendUint(b, tasks)
}

// helloMAC is the proof in a hello: HMAC-SHA256 keyed by the session
// token over a domain string, the connection's nonce and the daemon's id
// and claims as the hello encodes them, so that the token never crosses
// the wire, a hello answers only its own connection's challenge, and its
// id and claims cannot be changed in flight.
func helloMAC(token string, nonce []byte, id string, max, tasks uint64) []byte {
	h := hmac.New(sha256.New, []byte(token))
	msg := make([]byte, 0, 64+len(nonce)+len(id))
	msg = append(msg, "nanoact task runner hello v2\x00"...)
	msg = appendBytes(msg, nonce)
	msg = appendText(msg, id)
	msg = appendUint(msg, max)
	msg = appendUint(msg, tasks)
	h.Write(msg)
	return h.Sum(nil)
}

// appendTask encodes a task message; task and attempt (from 1) identify
// the run for the task (AttemptFrom), seed is its seed (SeedFrom), and
// carrier, when not empty, its trace context (traceSend).
func appendTask(b []byte, id uint64, name string, args []byte, timeout, task, attempt, seed uint64, carrier []byte) []byte {
	b = appendHead(b, majArray, 8+uint64(min(len(carrier), 1)))
	b = appendUint(b, kindTask)
	b = appendUint(b, id)
	b = appendText(b, name)
	b = appendBytes(b, args)
	b = appendUint(b, timeout)
	b = appendUint(b, task)
	b = appendUint(b, attempt)
	return append(appendUint(b, seed), carrier...)
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

// appendRefuse encodes a refusal: reason for the daemon's log and
// error, code (an NNG code) for what its Run reports (see the package
// doc's refuse message).
func appendRefuse(b []byte, reason string, code uint64) []byte {
	b = appendHead(b, majArray, 3)
	b = appendUint(b, kindRefuse)
	b = appendText(b, reason)
	return appendUint(b, code)
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
		return 2 // kind and version; the rest is checked by version
	case kindTask, kindResult:
		return 5
	case kindCancel, kindRefuse:
		return 2
	case kindChallenge:
		return 4
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
		decodeHello(&r, &f, n)
	case kindChallenge:
		decodeChallenge(&r, &f)
	case kindTask:
		decodeTask(&r, &f, n)
	case kindCancel:
		f.id = r.uint()
	case kindResult:
		decodeResult(&r, &f)
	case kindRefuse:
		f.text = r.text()
		if n > 2 { // a dispatcher before refusal codes sent none
			f.code = r.uint()
		}
	}
	if r.err {
		return frame{}, errFrame
	}
	return f, nil
}

// decodeHello reads a hello's elements after its kind. A hello of
// another version decodes with only its version (and kind) set, so that
// the dispatcher can refuse it by name: version 1 sent the token itself.
func decodeHello(r *reader, f *frame, n uint64) {
	f.version = r.uint()
	if r.err || f.version != wireVersion {
		return
	}
	if n < 6 {
		r.err = true
		return
	}
	f.mac = r.bytes()
	f.daemon = r.text()
	f.max = r.uint()
	f.tasks = r.uint()
}

// decodeChallenge reads a challenge's elements after its kind.
func decodeChallenge(r *reader, f *frame) {
	f.version = r.uint()
	f.nonce = r.bytes()
	f.limit = r.uint()
}

// decodeTask reads a task's elements after its kind.
func decodeTask(r *reader, f *frame, n uint64) {
	f.id = r.uint()
	f.name = r.text()
	f.args = r.bytes()
	f.timeout = r.uint()
	if n >= 7 { // a dispatcher from before attempt ids sends 5
		f.task = r.uint()
		f.attempt = r.uint()
	}
	if n >= 8 { // a dispatcher from before seeds sends 7
		f.seed = r.uint()
	}
	if n >= 9 { // a trace context, only when the dispatcher traces
		f.trace = r.carrier()
	}
}

// decodeResult reads a result's elements after its kind: exactly one of
// value, error and panic.
func decodeResult(r *reader, f *frame) {
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
}
