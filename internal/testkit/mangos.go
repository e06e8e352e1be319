package testkit

import (
	"strings"
	"testing"

	"go.nanomsg.org/mangos/v3"
	mrep "go.nanomsg.org/mangos/v3/protocol/rep"
	mreq "go.nanomsg.org/mangos/v3/protocol/req"
)

// MangosListen makes s listen on url and returns the URL a peer dials:
// url itself, or for tcp port 0 the address bound. The caller imports the
// mangos transport of url's scheme.
func MangosListen(tb testing.TB, s mangos.Socket, url string) string {
	tb.Helper()
	l, err := s.NewListener(url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := l.Listen(); err != nil {
		tb.Fatal(err)
	}
	if strings.HasPrefix(url, "tcp://") && strings.HasSuffix(url, ":0") {
		return l.Address()
	}
	return url
}

// BenchMangosReqRep measures one req/rep round trip of size-byte messages
// with plain mangos sockets over url (ns/op, allocations): the baseline
// the packages' own req/rep benchmarks compare with, in the same run. The
// replier is a goroutine echoing every request; it ends with the
// benchmark.
func BenchMangosReqRep(b *testing.B, url string, size int) {
	rep, err := mrep.NewSocket()
	if err != nil {
		b.Fatal(err)
	}
	defer rep.Close()
	dial := MangosListen(b, rep, url)
	req, err := mreq.NewSocket()
	if err != nil {
		b.Fatal(err)
	}
	defer req.Close()
	if err := req.Dial(dial); err != nil {
		b.Fatal(err)
	}
	done := MangosEcho(rep)
	payload := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		m := mangos.NewMessage(size)
		m.Body = append(m.Body, payload...)
		if err := req.SendMsg(m); err != nil {
			b.Fatal(err)
		}
		r, err := req.RecvMsg()
		if err != nil {
			b.Fatal(err)
		}
		r.Free()
	}
	_ = rep.Close()
	<-done
}

// MangosEcho sends every message received on s (a rep socket, say) back
// as it is, on a goroutine of its own, until a receive or send fails (s
// closed); the returned channel is closed when that goroutine returns.
func MangosEcho(s mangos.Socket) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := s.RecvMsg()
			if err != nil {
				return
			}
			if err := s.SendMsg(m); err != nil {
				m.Free()
				return
			}
		}
	}()
	return done
}
