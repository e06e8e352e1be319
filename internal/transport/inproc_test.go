package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol"
	"go.nanomsg.org/mangos/v3/protocol/pair"
	"go.nanomsg.org/mangos/v3/protocol/pull"
	"go.nanomsg.org/mangos/v3/protocol/push"
	"go.nanomsg.org/mangos/v3/protocol/rep"
	"go.nanomsg.org/mangos/v3/protocol/req"
	mtransport "go.nanomsg.org/mangos/v3/transport"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

var inprocSeq atomic.Int64

// inprocURL returns an inproc:// URL no other test uses.
func inprocURL(t testing.TB) string {
	return fmt.Sprintf("inproc://nanoact-test-%s-%d", t.Name(), inprocSeq.Add(1))
}

// mangosURL rewrites a user URL for mangos.
func mangosURL(t testing.TB, url string) string {
	t.Helper()
	u, err := transport.Rewrite(url)
	must(t, err)
	return u
}

func TestInprocRoundTrip(t *testing.T) {
	pairs := []struct {
		name     string
		srv, cli func(testing.TB) mangos.Socket
	}{
		{"pair0", newSock, newSock},
		{"req-rep", newRepSock, newReqSock},
	}
	for _, pc := range pairs {
		t.Run(pc.name, func(t *testing.T) {
			srv, cli := pc.srv(t), pc.cli(t)
			l, du := listen(t, srv, inprocURL(t), nil)
			if !bytes.HasPrefix([]byte(l.Address()), []byte("inproc://")) {
				t.Fatalf("listener address %q, want inproc://…", l.Address())
			}
			must(t, cli.Dial(du))
			for _, n := range []int{0, 8, 64 << 10} {
				want := pattern(n)
				must(t, cli.Send(want))
				got, err := srv.Recv()
				must(t, err)
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes: client to server payload differs", n)
				}
				must(t, srv.Send(append(got, '!')))
				back, err := cli.Recv()
				must(t, err)
				if !bytes.Equal(back, append(want, '!')) {
					t.Fatalf("%d bytes: server to client payload differs", n)
				}
			}
		})
	}
}

// TestInprocZeroCopy checks that an unshared, headerless message reaches
// the peer itself, and that a shared one is copied and left intact.
func TestInprocZeroCopy(t *testing.T) {
	for _, pc := range []struct {
		name     string
		srv, cli func(testing.TB) mangos.Socket
	}{
		{"pair0", newSock, newSock},
		{"push-pull", func(t testing.TB) mangos.Socket { return sockOf(t, pull.NewProtocol()) },
			func(t testing.TB) mangos.Socket { return sockOf(t, push.NewProtocol()) }},
	} {
		t.Run(pc.name, func(t *testing.T) {
			srv, cli := pc.srv(t), pc.cli(t)
			_, du := listen(t, srv, inprocURL(t), nil)
			must(t, cli.Dial(du))
			for _, n := range []int{8, 64 << 10} {
				m := mangos.NewMessage(n)
				m.Body = append(m.Body, pattern(n)...)
				must(t, cli.SendMsg(m))
				r, err := srv.RecvMsg()
				must(t, err)
				if r != m {
					t.Fatalf("%d bytes: received a copy of an unshared message", n)
				}
				r.Free()

				m = mangos.NewMessage(n)
				m.Body = append(m.Body, pattern(n)...)
				m.Clone() // the sender keeps a reference
				must(t, cli.SendMsg(m))
				r, err = srv.RecvMsg()
				must(t, err)
				if r == m {
					t.Fatalf("%d bytes: a shared message was handed over, not copied", n)
				}
				if !bytes.Equal(r.Body, pattern(n)) || !bytes.Equal(m.Body, pattern(n)) {
					t.Fatalf("%d bytes: payload differs", n)
				}
				r.Free()
				m.Free()
			}
		})
	}
}

func TestInprocAddrInUse(t *testing.T) {
	url := inprocURL(t)
	a, b := newSock(t), newSock(t)
	must(t, a.Listen(mangosURL(t, url)))
	err := b.Listen(mangosURL(t, url))
	wantCode(t, err, nanoact.ErrAddrInUse)
	// Once the first socket closes, the name is free again.
	must(t, a.Close())
	must(t, b.Listen(mangosURL(t, url)))
}

func TestInprocConnRefused(t *testing.T) {
	s := newSock(t)
	err := s.Dial(mangosURL(t, inprocURL(t)))
	wantCode(t, err, nanoact.ErrConnRefused)
}

// TestInprocRedial checks that an asynchronous dialer retries a refused
// inproc dial, so that it connects once someone listens.
func TestInprocRedial(t *testing.T) {
	url := inprocURL(t)
	srv, cli := newSock(t), newSock(t)
	must(t, cli.SetOption(mangos.OptionReconnectTime, 5*time.Millisecond))
	must(t, cli.DialOptions(mangosURL(t, url), map[string]any{mangos.OptionDialAsynch: true}))
	must(t, srv.Listen(mangosURL(t, url)))
	must(t, cli.Send([]byte("late")))
	got, err := srv.Recv()
	must(t, err)
	if string(got) != "late" {
		t.Fatalf("got %q", got)
	}
}

func TestInprocWrongProtocol(t *testing.T) {
	url := inprocURL(t)
	lrec, drec := newRecorder(), newRecorder()
	srv := newSock(t) // pair0
	_, du := listen(t, srv, url, map[string]any{transport.OptionEvents: lrec})
	cli := newReqSock(t)
	err := cli.DialOptions(du, map[string]any{transport.OptionEvents: drec})
	wantCode(t, err, nanoact.ErrProtocol)
	de := drec.waitHSFail(t)
	wantCode(t, de.err, nanoact.ErrProtocol)
	if de.url != url {
		t.Errorf("dialer event url %q, want %q", de.url, url)
	}
	le := lrec.waitHSFail(t)
	wantCode(t, le.err, nanoact.ErrProtocol)
	if le.url != url {
		t.Errorf("listener event url %q, want %q", le.url, url)
	}
}

// rawInproc gives direct access to the transport, below mangos' core,
// for protocol info (the socket is only a source of Info).
type rawInproc struct {
	tr  mangos.Transport
	url string // mangos URL
}

func newRawInproc(t *testing.T) rawInproc {
	t.Helper()
	tr := mtransport.GetTransport("nanoact.inproc")
	if tr == nil {
		t.Fatal("nanoact.inproc is not registered")
	}
	return rawInproc{tr: tr, url: mangosURL(t, inprocURL(t))}
}

func (r rawInproc) listener(t *testing.T, p protocol.Protocol, opts map[string]any) mangos.TranListener {
	t.Helper()
	l, err := r.tr.NewListener(r.url, sockOf(t, p))
	must(t, err)
	for k, v := range opts {
		must(t, l.SetOption(k, v))
	}
	must(t, l.Listen())
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func (r rawInproc) dialer(t *testing.T, p protocol.Protocol, opts map[string]any) mangos.TranDialer {
	t.Helper()
	d, err := r.tr.NewDialer(r.url, sockOf(t, p))
	must(t, err)
	for k, v := range opts {
		must(t, d.SetOption(k, v))
	}
	return d
}

// connect dials d and accepts on l; it returns the dialer's and the
// listener's pipes, closed at cleanup.
func connect(t *testing.T, d mangos.TranDialer, l mangos.TranListener) (dp, lp mangos.TranPipe) {
	t.Helper()
	var wg sync.WaitGroup
	var aerr error
	wg.Go(func() { lp, aerr = l.Accept() })
	dp, err := d.Dial()
	wg.Wait()
	must(t, err)
	must(t, aerr)
	t.Cleanup(func() { _ = dp.Close(); _ = lp.Close() })
	return dp, lp
}

// result is the outcome of a blocking call run on its own goroutine.
type result struct {
	p   mangos.TranPipe
	m   *mangos.Message
	err error
}

// async runs f on a goroutine and returns the channel its result comes
// on.
func async(f func() result) <-chan result {
	c := make(chan result, 1)
	go func() { c <- f() }()
	return c
}

func await(t *testing.T, c <-chan result) result {
	t.Helper()
	tm := time.NewTimer(10 * time.Second)
	defer tm.Stop()
	select {
	case r := <-c:
		return r
	case <-tm.C:
		t.Fatal("blocked call did not return")
	}
	return result{}
}

// stillBlocked fails if c delivers within a short while.
func stillBlocked(t *testing.T, c <-chan result) {
	t.Helper()
	select {
	case r := <-c:
		t.Fatalf("returned early: %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestInprocClose(t *testing.T) {
	t.Run("pending-accept", func(t *testing.T) {
		r := newRawInproc(t)
		l := r.listener(t, pair.NewProtocol(), nil)
		c := async(func() result { p, err := l.Accept(); return result{p: p, err: err} })
		stillBlocked(t, c)
		must(t, l.Close())
		if res := await(t, c); res.err != mangos.ErrClosed {
			t.Fatalf("Accept after Close: %v, want mangos.ErrClosed", res.err)
		}
		if _, err := l.Accept(); err != mangos.ErrClosed {
			t.Fatalf("Accept on a closed listener: %v", err)
		}
		wantCode(t, l.Close(), nanoact.ErrClosed)
	})
	t.Run("pending-dial", func(t *testing.T) {
		r := newRawInproc(t)
		l := r.listener(t, pair.NewProtocol(), nil)
		d := r.dialer(t, pair.NewProtocol(), nil)
		c := async(func() result { p, err := d.Dial(); return result{p: p, err: err} })
		stillBlocked(t, c) // nobody accepts
		must(t, l.Close())
		wantCode(t, await(t, c).err, nanoact.ErrConnRefused)
	})
	t.Run("dial-context", func(t *testing.T) {
		r := newRawInproc(t)
		r.listener(t, pair.NewProtocol(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		d := r.dialer(t, pair.NewProtocol(), map[string]any{transport.OptionContext: ctx})
		c := async(func() result { p, err := d.Dial(); return result{p: p, err: err} })
		stillBlocked(t, c)
		cancel()
		if res := await(t, c); res.err != mangos.ErrClosed {
			t.Fatalf("Dial after cancel: %v, want mangos.ErrClosed", res.err)
		}
		if _, err := d.Dial(); err != mangos.ErrClosed {
			t.Fatalf("Dial on a closed dialer: %v", err)
		}
	})
	t.Run("dial-timeout", func(t *testing.T) {
		r := newRawInproc(t)
		r.listener(t, pair.NewProtocol(), nil)
		rec := newRecorder()
		d := r.dialer(t, pair.NewProtocol(), map[string]any{
			transport.OptionHandshakeTimeout: 30 * time.Millisecond,
			transport.OptionEvents:           rec,
		})
		_, err := d.Dial() // nobody accepts
		wantCode(t, err, nanoact.ErrTimedOut)
		wantCode(t, rec.waitHSFail(t).err, nanoact.ErrTimedOut)
	})
	for _, closer := range []string{"self", "peer"} {
		t.Run("pending-send/"+closer, func(t *testing.T) {
			r := newRawInproc(t)
			dp, lp := connect(t, r.dialer(t, pair.NewProtocol(), nil), r.listener(t, pair.NewProtocol(), nil))
			m := mangos.NewMessage(8)
			m.Body = append(m.Body, "pending!"...)
			c := async(func() result { return result{err: dp.Send(m)} })
			stillBlocked(t, c)
			if closer == "self" {
				must(t, dp.Close())
			} else {
				must(t, lp.Close())
			}
			wantCode(t, await(t, c).err, nanoact.ErrClosed)
			if string(m.Body) != "pending!" {
				t.Fatalf("a failed Send changed the message: %q", m.Body)
			}
			m.Free() // still ours
			wantCode(t, dp.Send(mangos.NewMessage(0)), nanoact.ErrClosed)
			_, err := lp.Recv()
			wantCode(t, err, nanoact.ErrClosed)
		})
		t.Run("pending-recv/"+closer, func(t *testing.T) {
			r := newRawInproc(t)
			dp, lp := connect(t, r.dialer(t, pair.NewProtocol(), nil), r.listener(t, pair.NewProtocol(), nil))
			c := async(func() result { m, err := dp.Recv(); return result{m: m, err: err} })
			stillBlocked(t, c)
			if closer == "self" {
				must(t, dp.Close())
			} else {
				must(t, lp.Close())
			}
			wantCode(t, await(t, c).err, nanoact.ErrClosed)
			if closer == "self" {
				wantCode(t, dp.Close(), nanoact.ErrClosed)
			} else {
				must(t, dp.Close()) // the first Close of this end
			}
		})
	}
}

// TestInprocSplitWord checks how a message is laid out for its receiver:
// a 4-byte Header stays in place, by pointer, for a word-splitting pipe;
// any other Header is folded into the Body of a fresh message.
func TestInprocSplitWord(t *testing.T) {
	word, body := []byte{0x80, 0, 0, 1}, []byte("payload")
	cases := []struct {
		name     string
		srv, cli protocol.Protocol
		split    bool   // OptionSplitWord on the listener
		header   []byte // sent by the dialer
		keep     bool   // Header kept, message passed by pointer
	}{
		{"rep-splits", rep.NewProtocol(), req.NewProtocol(), true, word, true},
		{"rep-no-split", rep.NewProtocol(), req.NewProtocol(), false, word, false},
		{"rep-splits-8-byte-header", rep.NewProtocol(), req.NewProtocol(), true, append(word, word...), false},
		{"rep-splits-no-header", rep.NewProtocol(), req.NewProtocol(), true, nil, true},
		{"pair0-never-splits", pair.NewProtocol(), pair.NewProtocol(), true, word, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRawInproc(t)
			l := r.listener(t, c.srv, map[string]any{transport.OptionSplitWord: c.split})
			dp, lp := connect(t, r.dialer(t, c.cli, map[string]any{transport.OptionSplitWord: true}), l)
			m := mangos.NewMessage(len(body))
			m.Header = append(m.Header, c.header...)
			m.Body = append(m.Body, body...)
			res := async(func() result { return result{err: dp.Send(m)} })
			got, err := lp.Recv()
			must(t, err)
			must(t, await(t, res).err)
			if (got == m) != c.keep {
				t.Errorf("passed by pointer: %v, want %v", got == m, c.keep)
			}
			wire := append(append([]byte{}, c.header...), body...)
			if c.keep {
				if !bytes.Equal(got.Header, c.header) || !bytes.Equal(got.Body, body) {
					t.Fatalf("header % x body %q", got.Header, got.Body)
				}
			} else if len(got.Header) != 0 || !bytes.Equal(got.Body, wire) {
				t.Fatalf("header % x body % x, want no header and body % x", got.Header, got.Body, wire)
			}
			got.Free()
		})
	}
}

func TestInprocOptions(t *testing.T) {
	url := inprocURL(t)
	name := url[len("inproc://"):]
	srv, cli := newSock(t), newSock(t)
	pipes := make(chan mangos.Pipe, 2)
	srv.SetPipeEventHook(func(ev mangos.PipeEvent, p mangos.Pipe) {
		if ev == mangos.PipeEventAttached {
			pipes <- p
		}
	})
	must(t, srv.SetOption(mangos.OptionMaxRecvSize, 16))
	l, du := listen(t, srv, url, nil)
	if l.Address() != url {
		t.Errorf("listener address %q, want %q", l.Address(), url)
	}
	must(t, cli.Dial(du))
	p := <-pipes
	for _, opt := range []string{mangos.OptionLocalAddr, mangos.OptionRemoteAddr} {
		v, err := p.GetOption(opt)
		must(t, err)
		a, ok := v.(net.Addr)
		if !ok || a.Network() != "inproc" || a.String() != name {
			t.Errorf("%s = %v (%T), want inproc address %q", opt, v, v, name)
		}
	}
	v, err := p.GetOption(mangos.OptionMaxRecvSize)
	must(t, err)
	if v != 16 {
		t.Errorf("max recv size %v, want 16", v)
	}
	if _, err := p.GetOption(mangos.OptionTLSConnState); err != mangos.ErrBadOption {
		t.Errorf("TLS state: %v, want mangos.ErrBadOption", err)
	}
	// The limit is reported, not enforced, as in NNG.
	big := pattern(1 << 10)
	must(t, cli.Send(big))
	got, err := srv.Recv()
	must(t, err)
	if !bytes.Equal(got, big) {
		t.Fatal("payload differs")
	}
	for _, opt := range []string{mangos.OptionNoDelay, mangos.OptionTLSConfig} {
		if err := l.SetOption(opt, true); err != mangos.ErrBadOption {
			t.Errorf("listener option %s: %v, want mangos.ErrBadOption", opt, err)
		}
	}
}

// TestInprocManySmall sends bursts both ways at once from several
// goroutines, for the race detector.
func TestInprocManySmall(t *testing.T) {
	srv, cli := newSock(t), newSock(t)
	_, du := listen(t, srv, inprocURL(t), nil)
	must(t, cli.Dial(du))
	exchangeMany(t, srv, cli)
}
