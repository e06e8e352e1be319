package transport

import (
	"bytes"
	"io"
	"testing"
)

// fakeVec is a vecReader over an in-memory stream that counts its calls
// and hands out at most max bytes per call, as a socket would.
type fakeVec struct {
	src   *bytes.Reader
	max   int
	calls int
}

func (f *fakeVec) readv(p, q []byte) (int, error) {
	f.calls++
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
