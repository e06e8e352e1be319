package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"unsafe"
)

// floorImpl is the floor every figure is measured against: the same cases
// over plain Go connections with no messaging library at all. A message is
// an 8-byte big-endian length and the payload (SP's framing, without the
// handshake), written with one writev and read with io.ReadFull; tcp and
// ipc use net's TCP and Unix sockets, inproc a pair of Go channels handing
// over the sender's slice. Nothing a real protocol needs (queues, pipes,
// headers, back-traces) is there. Its stream writes each message with its
// own syscall, so a library that coalesces writes can pass it for small
// messages; for round trips and large messages it is the floor. The
// buffers it sends from (the payload, which every system is given from
// pageOffset, and the one it reads into) start pageLead bytes past a page
// boundary, so the kernel's copy of a send never runs at the half speed
// of a destination 0-15 bytes past its source modulo 4 KiB (see
// internal/transport/stage.go): written after an 8-byte length, a
// page-aligned 64 KiB body does, and made this floor's tcp round trip
// twice what plain TCP costs.
type floorImpl struct{}

// pageLead is where pageOffset's buffers start past a page boundary.
const pageLead = 64

// pageOffset returns n zero bytes starting pageLead bytes past a page
// boundary.
func pageOffset(n int) []byte {
	b := make([]byte, n+2*4096)
	skip := (4096 + pageLead - int(uintptr(unsafe.Pointer(unsafe.SliceData(b))))%4096) % 4096
	return b[skip : skip+n : skip+n]
}

func (floorImpl) name() string { return sysFloor }

func (floorImpl) reqRep(url string) (reqRep, error) {
	if strings.HasPrefix(url, "inproc://") {
		p := &chanReqRep{req: make(chan []byte), rep: make(chan []byte), closed: make(chan struct{}), done: make(chan struct{})}
		go p.echo()
		return p, nil
	}
	srv, cli, err := floorConns(url)
	if err != nil {
		return nil, err
	}
	p := &netReqRep{cli: newFramer(cli), srv: newFramer(srv), done: make(chan struct{})}
	go p.echo()
	return p, nil
}

func (floorImpl) pushPull(url string) (pushPull, error) {
	if strings.HasPrefix(url, "inproc://") {
		return &chanPushPull{ch: make(chan []byte, 128), closed: make(chan struct{})}, nil
	}
	srv, cli, err := floorConns(url)
	if err != nil {
		return nil, err
	}
	return &netPushPull{push: newFramer(cli), pull: newFramer(srv)}, nil
}

// floorConns listens at url (tcp://127.0.0.1:0 or ipc://PATH), dials it
// and returns both ends of the one connection.
func floorConns(url string) (srv, cli net.Conn, err error) {
	network, addr := "tcp", strings.TrimPrefix(url, "tcp://")
	if path, ok := strings.CutPrefix(url, "ipc://"); ok {
		network, addr = "unix", path
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("floor: listen %s: %w", url, err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	acceptErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acceptErr <- err
			return
		}
		accepted <- c
	}()
	if cli, err = net.Dial(network, ln.Addr().String()); err != nil {
		_ = ln.Close()
		<-acceptErr
		return nil, nil, fmt.Errorf("floor: dial %s: %w", url, err)
	}
	select {
	case srv = <-accepted:
	case err = <-acceptErr:
		_ = cli.Close()
		return nil, nil, fmt.Errorf("floor: accept %s: %w", url, err)
	}
	if tc, ok := cli.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // Go's default, said out loud
	}
	return srv, cli, nil
}

// framer reads and writes length-prefixed messages on one connection. Its
// read side is used by one goroutine, its write side by one (maybe
// another).
type framer struct {
	c    net.Conn
	r    *bufio.Reader
	whdr [8]byte
	rhdr [8]byte
	buf  []byte // the last message read; reused
}

func newFramer(c net.Conn) *framer {
	return &framer{c: c, r: bufio.NewReaderSize(c, 64<<10)}
}

func (f *framer) write(payload []byte) error {
	binary.BigEndian.PutUint64(f.whdr[:], uint64(len(payload)))
	bufs := net.Buffers{f.whdr[:], payload}
	_, err := bufs.WriteTo(f.c)
	return err
}

func (f *framer) read() ([]byte, error) {
	if _, err := io.ReadFull(f.r, f.rhdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint64(f.rhdr[:])
	if n > 64<<20 {
		return nil, fmt.Errorf("floor: frame of %d bytes", n)
	}
	if uint64(cap(f.buf)) < n {
		f.buf = pageOffset(int(n))
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, err
	}
	return f.buf, nil
}

type netReqRep struct {
	cli, srv *framer
	done     chan struct{} // closed when echo returns
	once     sync.Once
}

func (p *netReqRep) echo() {
	defer close(p.done)
	for {
		m, err := p.srv.read()
		if err != nil {
			return
		}
		if err := p.srv.write(m); err != nil {
			return
		}
	}
}

func (p *netReqRep) roundTrip(payload []byte) (int, error) {
	if err := p.cli.write(payload); err != nil {
		return 0, err
	}
	m, err := p.cli.read()
	return len(m), err
}

func (p *netReqRep) close() {
	p.once.Do(func() {
		_ = p.cli.c.Close()
		_ = p.srv.c.Close()
		<-p.done
	})
}

type netPushPull struct {
	push, pull *framer
	once       sync.Once
}

func (p *netPushPull) send(payload []byte) error { return p.push.write(payload) }

func (p *netPushPull) recv() (int, error) {
	m, err := p.pull.read()
	return len(m), err
}

func (p *netPushPull) close() {
	p.once.Do(func() {
		_ = p.push.c.Close()
		_ = p.pull.c.Close()
	})
}

// errFloorClosed ends a channel floor's calls after close.
var errFloorClosed = errors.New("floor: closed")

// chanReqRep is the inproc floor's round trip: the request slice goes to
// the echo goroutine and back, as nanoact's inproc hands a message over by
// pointer.
type chanReqRep struct {
	req, rep chan []byte
	closed   chan struct{}
	done     chan struct{} // closed when echo returns
	once     sync.Once
}

func (p *chanReqRep) echo() {
	defer close(p.done)
	for {
		select {
		case m := <-p.req:
			select {
			case p.rep <- m:
			case <-p.closed:
				return
			}
		case <-p.closed:
			return
		}
	}
}

func (p *chanReqRep) roundTrip(payload []byte) (int, error) {
	select {
	case p.req <- payload:
	case <-p.closed:
		return 0, errFloorClosed
	}
	select {
	case m := <-p.rep:
		return len(m), nil
	case <-p.closed:
		return 0, errFloorClosed
	}
}

func (p *chanReqRep) close() {
	p.once.Do(func() {
		close(p.closed)
		<-p.done
	})
}

// chanPushPull is the inproc floor's stream: a buffered channel of slices.
type chanPushPull struct {
	ch     chan []byte
	closed chan struct{}
	once   sync.Once
}

func (p *chanPushPull) send(payload []byte) error {
	select {
	case p.ch <- payload:
		return nil
	case <-p.closed:
		return errFloorClosed
	}
}

func (p *chanPushPull) recv() (int, error) {
	select {
	case m := <-p.ch:
		return len(m), nil
	case <-p.closed:
		return 0, errFloorClosed
	}
}

func (p *chanPushPull) close() { p.once.Do(func() { close(p.closed) }) }
