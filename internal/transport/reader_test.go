package transport

import (
	"bytes"
	"io"
	"slices"
	"testing"
)

// fakeVec is a vecReader over an in-memory stream that counts its calls
// and hands out at most max bytes per call, as a socket would.
type fakeVec struct {
	src   *bytes.Reader
	max   int
	calls int
	ahead []int // len(q) of every call
}

func (f *fakeVec) readv(p, q []byte) (int, error) {
	f.calls++
	f.ahead = append(f.ahead, len(q))
	n, err := f.src.Read(p[:min(len(p), f.max)])
	if n == len(p) && n < f.max {
		m, _ := f.src.Read(q[:min(len(q), f.max-n)])
		n += m
	}
	return n, err
}

// A read into a buffer as large as the read buffer goes straight to it
// with one readv, which also buffers what follows: the bytes after come
// from the buffer, with no read of their own, and the stream is intact.
func TestStreamReaderReadv(t *testing.T) {
	stream := make([]byte, 300<<10)
	for i := range stream {
		stream[i] = byte(i * 7)
	}
	for _, max := range []int{1 << 30, 50 << 10, 1000} {
		src := bytes.NewReader(stream)
		fv := &fakeVec{src: src, max: max}
		b := &streamReader{src: src, vec: fv, buf: make([]byte, 32<<10)}
		var got []byte
		for _, n := range []int{8, 100 << 10, 8, 3, 40 << 10, 32 << 10, 8} {
			p := make([]byte, n)
			if _, err := io.ReadFull(b, p); err != nil {
				t.Fatalf("max %d: reading %d: %v", max, n, err)
			}
			got = append(got, p...)
		}
		if !bytes.Equal(got, stream[:len(got)]) {
			t.Fatalf("max %d: stream garbled", max)
		}
		if fv.calls == 0 {
			t.Fatalf("max %d: no vectored read", max)
		}
	}
}

// Once the bytes after a large read are buffered, the next small read
// makes no call at all.
func TestStreamReaderSpillServesNextHeader(t *testing.T) {
	stream := make([]byte, 64<<10+8)
	src := bytes.NewReader(stream)
	fv := &fakeVec{src: src, max: 1 << 30}
	b := &streamReader{src: eofReader{}, vec: fv, buf: make([]byte, 32<<10)}
	if _, err := io.ReadFull(b, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(b, make([]byte, 8)); err != nil {
		t.Fatalf("the next 8 bytes were not buffered: %v", err)
	}
	if fv.calls != 1 {
		t.Fatalf("%d vectored reads, want 1", fv.calls)
	}
}

// eofReader is a src that has nothing: any plain read fails the test's
// expectations with io.EOF.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// lenReader is a src that counts its reads and records their lengths.
type lenReader struct {
	src  *bytes.Reader
	lens []int
}

func (r *lenReader) Read(p []byte) (int, error) {
	r.lens = append(r.lens, len(p))
	return r.src.Read(p)
}

// After a large read the reader reads ahead only shortAhead bytes, in the
// large read's readv and in the next fill of its buffer, so that little
// of a following large body lands in the buffer (to be copied out again);
// a fill that serves only small reads gives the next fill the whole
// buffer back. Reads straddling the short read-ahead keep the stream
// intact.
func TestStreamReaderShortAheadAfterLarge(t *testing.T) {
	const bufSize = 32 << 10
	stream := make([]byte, 400<<10)
	for i := range stream {
		stream[i] = byte(i * 13)
	}
	src := bytes.NewReader(stream)
	lr := &lenReader{src: src}
	fv := &fakeVec{src: src, max: 1 << 30}
	b := &streamReader{src: lr, vec: fv, buf: make([]byte, bufSize)}
	var got []byte
	read := func(n int) {
		t.Helper()
		p := make([]byte, n)
		if _, err := io.ReadFull(b, p); err != nil {
			t.Fatalf("reading %d: %v", n, err)
		}
		got = append(got, p...)
	}
	read(8) // a fill of the whole buffer
	if want := []int{bufSize}; !slices.Equal(lr.lens, want) {
		t.Fatalf("first fill read %v, want %v", lr.lens, want)
	}
	read(bufSize - 8) // the buffer's rest: no read
	read(64 << 10)    // straight into p, then shortAhead ahead
	if want := []int{shortAhead}; !slices.Equal(fv.ahead, want) {
		t.Fatalf("large read's readv read ahead %v, want %v", fv.ahead, want)
	}
	read(2 * shortAhead) // the short read-ahead, then straight into p again (a tail of a body)
	if len(fv.ahead) != 2 || fv.ahead[1] != shortAhead {
		t.Fatalf("readvs read ahead %v, want [%d %d]", fv.ahead, shortAhead, shortAhead)
	}
	read(shortAhead) // the readv's read-ahead: no read
	if len(lr.lens) != 1 || fv.calls != 2 {
		t.Fatalf("%d fills, %d readvs; want 1 and 2", len(lr.lens), fv.calls)
	}
	read(8) // a fill after a large read: short
	if want := []int{bufSize, shortAhead}; !slices.Equal(lr.lens, want) {
		t.Fatalf("fills %v, want %v", lr.lens, want)
	}
	read(shortAhead - 8) // its rest: no read
	read(8)              // a fill that follows one serving no large read: the whole buffer
	if want := []int{bufSize, shortAhead, bufSize}; !slices.Equal(lr.lens, want) {
		t.Fatalf("fills %v, want %v", lr.lens, want)
	}
	if !bytes.Equal(got, stream[:len(got)]) {
		t.Fatal("stream garbled")
	}
}
