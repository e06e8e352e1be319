package transport

import (
	"io"
	"net"
	"time"
)

// streamReader is a pipe's buffered reader: bufio.Reader's job, with one
// difference. A read straight into a caller's buffer at least as large as
// the read buffer (the rest of a large message's body) also fills the read
// buffer with whatever follows, in one readv(2) where the platform and the
// connection allow it (tcp, ipc and abstract on Linux): the next frame's
// length, and often the start of its body, come with the body's last bytes
// instead of costing a system call of their own. The body itself goes
// from the socket into the message with no copy.
//
// After such a large read it reads ahead at most shortAhead bytes (see
// ahead), until a read of the buffer serves no large read: what it
// buffers past a frame's length is the start of the next large body,
// which must then be copied into that body's message (issue 21: a 32 KiB
// memmove per 64 KiB message, 9% of the CPU of a 64 KiB round trip).
//
// It is used by one goroutine at a time (the pipe's receive lock).
type streamReader struct {
	src  io.Reader // the connection, or an idleReader on it
	vec  vecReader // nil: no vectored reads
	buf  []byte
	r, w int  // buf[r:w] is buffered
	big  bool // the last read from the connection went straight into a large p
}

// shortAhead is the most a streamReader reads ahead after a large read:
// room for the next frame's length and header and, for a run of small
// frames, a few hundred of them.
const shortAhead = 4 << 10

// ahead is the part of the buffer the next read from the connection may
// fill: all of it, or after a large read shortAhead.
func (b *streamReader) ahead() []byte {
	if b.big {
		return b.buf[:min(shortAhead, len(b.buf))]
	}
	return b.buf
}

// vecReader reads into two buffers with one system call: p first, then q.
type vecReader interface {
	readv(p, q []byte) (int, error)
}

// newStreamReader reads from c (through src, which may set an idle
// deadline) with a read buffer of size bytes. idle > 0 is the idle time-out
// the vectored reads set before each read, as idleReader does.
func newStreamReader(src io.Reader, c net.Conn, idle time.Duration, size int) *streamReader {
	return &streamReader{src: src, vec: newVecReader(c, idle), buf: make([]byte, size)}
}

// Read reads into p what is buffered or, with nothing buffered, what one
// read brings: into the buffer first when p is smaller than it, straight
// into p otherwise (with readv, the buffer after p). It returns at most
// len(p) bytes and an error only when it returns no bytes.
func (b *streamReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r < b.w {
		n := copy(p, b.buf[b.r:b.w])
		b.r += n
		return n, nil
	}
	b.r, b.w = 0, 0
	if len(p) >= len(b.ahead()) {
		b.big = true
		if b.vec == nil {
			return b.read(p)
		}
		n, err := b.vec.readv(p, b.ahead())
		if n > len(p) {
			b.w = n - len(p)
			n = len(p)
		}
		return n, err
	}
	n, err := b.fill()
	if n == 0 {
		return 0, err
	}
	n = copy(p, b.buf[:n])
	b.r = n
	return n, nil
}

// read is one read from src; a reader that returns neither bytes nor an
// error is read again, as bufio does, up to 100 times.
func (b *streamReader) read(p []byte) (int, error) {
	for range 100 {
		n, err := b.src.Read(p)
		if n > 0 || err != nil {
			if n > 0 {
				err = nil // the next read reports it again
			}
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// fill reads into the empty buffer (as much as ahead allows) and
// returns what it read. A fill that comes after a large read ends the
// short read-ahead unless it is itself followed by one (big is set again).
func (b *streamReader) fill() (int, error) {
	n, err := b.read(b.ahead())
	b.big = false
	b.w = n
	return n, err
}

// Peek1 waits until at least one byte is buffered, without consuming it.
func (b *streamReader) Peek1() error {
	if b.r < b.w {
		return nil
	}
	b.r, b.w = 0, 0
	n, err := b.fill()
	if n > 0 {
		return nil
	}
	return err
}
