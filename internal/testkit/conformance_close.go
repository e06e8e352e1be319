package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/sockets"
)

// recvResult is the outcome of an asynchronous receive.
type recvResult struct {
	m   *sockets.Msg
	err error
}

// chanReceiver passes an asynchronous receive's outcome to a channel of
// capacity one.
type chanReceiver chan recvResult

func (c chanReceiver) Received(m *sockets.Msg, err error) { c <- recvResult{m, err} }

// pendingRecv starts a receive on c that waits in the protocol's queue
// and returns the channel its outcome comes on.
func pendingRecv(c sockets.AsyncConn) chanReceiver {
	ch := make(chanReceiver, 1)
	var op sockets.RecvOp
	c.RecvAsync(&op, ch)
	return ch
}

// wantPendingErr waits for a pending receive's outcome and fails the test
// unless it is want.
func wantPendingErr(t *testing.T, what string, ch chanReceiver, want *nanoact.Error) {
	t.Helper()
	select {
	case r := <-ch:
		if r.err == nil {
			t.Fatalf("%s: received %q, want %v", what, r.m.Body, want)
		}
		WantCode(t, what, r.err, want)
	case <-time.After(confLimit):
		t.Fatalf("%s: still pending after %v, want %v", what, confLimit, want)
	}
}

// receivers are the protocols that receive, each with what brings a
// socket or context of it to a receive that waits.
var receivers = []struct {
	proto sockets.Protocol
	ctxs  bool
	prep  func(t *testing.T, ctx context.Context, c sockets.Conn)
}{
	{sockets.Pull, false, nil},
	{sockets.Sub, true, nil},
	{sockets.Rep, true, nil},
	{sockets.Req, true, func(t *testing.T, ctx context.Context, c sockets.Conn) { MustSend(t, ctx, c, []byte("q")) }},
	{sockets.Surveyor, true, func(t *testing.T, ctx context.Context, c sockets.Conn) {
		setSurveyTime(t, c, time.Minute)
		MustSend(t, ctx, c, []byte("survey"))
	}},
	{sockets.Respondent, true, nil},
	{sockets.Pair, false, nil},
	{sockets.Poly, false, nil},
	{sockets.Bus, false, nil},
}

// closeCases: NNG's close semantics. A receive waiting when its socket
// or context closes ends with ErrClosed; every operation on a closed
// socket or context fails with ErrClosed, a second Close included.
func closeCases() []ConfCase {
	var cs []ConfCase
	for _, r := range receivers {
		p := r.proto
		cs = append(cs, ConfCase{Name: p.String() + "/close/pending-recv-socket-close", Run: func(t *testing.T, k *Link) {
			s, _ := k.Pair(p, p.Peer())
			if r.prep != nil {
				r.prep(t, CtxT(t), s)
			}
			ch := pendingRecv(s)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			wantPendingErr(t, p.String()+" receive pending at socket Close", ch, nanoact.ErrClosed)
		}})
		cs = append(cs, ConfCase{Name: p.String() + "/close/blocking-recv-socket-close", Run: func(t *testing.T, k *Link) {
			s, _ := k.Pair(p, p.Peer())
			if r.prep != nil {
				r.prep(t, CtxT(t), s)
			}
			done := make(chan error, 1)
			go func() {
				_, err := s.Recv(CtxT(t))
				done <- err
			}()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, p.String()+" blocking receive at socket Close", <-done, nanoact.ErrClosed)
		}})
		if !r.ctxs {
			continue
		}
		cs = append(cs, ConfCase{Name: p.String() + "/close/blocking-recv-context-close", Run: func(t *testing.T, k *Link) {
			s, _ := k.Pair(p, p.Peer())
			c, err := s.Context()
			if err != nil {
				t.Fatal(err)
			}
			if r.prep != nil {
				r.prep(t, CtxT(t), c)
			}
			done := make(chan error, 1)
			go func() {
				_, err := c.Recv(CtxT(t))
				done <- err
			}()
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, p.String()+" blocking context receive at context Close", <-done, nanoact.ErrClosed)
		}})
		cs = append(cs, ConfCase{Name: p.String() + "/close/aio-recv-context-close", Run: func(t *testing.T, k *Link) {
			s, _ := k.Pair(p, p.Peer())
			c, err := s.Context()
			if err != nil {
				t.Fatal(err)
			}
			if r.prep != nil {
				r.prep(t, CtxT(t), c)
			}
			a := aio.Recv[[]byte](c, aio.Mode(sockets.Raw), aio.Timeout(-1))
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			_, err = a.Value(CtxT(t))
			WantCode(t, p.String()+" aio receive on a context at its Close", err, nanoact.ErrClosed)
		}})
		for _, closeSocket := range []bool{false, true} {
			name := p.String() + "/close/pending-recv-context-close"
			if closeSocket {
				name = p.String() + "/close/pending-context-recv-socket-close"
			}
			cs = append(cs, ConfCase{Name: name, Run: func(t *testing.T, k *Link) {
				s, _ := k.Pair(p, p.Peer())
				c, err := s.Context()
				if err != nil {
					t.Fatal(err)
				}
				if r.prep != nil {
					r.prep(t, CtxT(t), c)
				}
				ch := pendingRecv(c)
				if closeSocket {
					err = s.Close()
				} else {
					err = c.Close()
				}
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
				wantPendingErr(t, name, ch, nanoact.ErrClosed)
			}})
		}
	}
	all := []sockets.Protocol{sockets.Req, sockets.Rep, sockets.Push, sockets.Pull, sockets.Pub, sockets.Sub,
		sockets.Surveyor, sockets.Respondent, sockets.Pair, sockets.Poly, sockets.Bus}
	for _, p := range all {
		cs = append(cs, ConfCase{Name: p.String() + "/close/after-close", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			s, _ := k.Pair(p, p.Peer())
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, "second Close", s.Close(), nanoact.ErrClosed)
			WantCode(t, "Send after Close", s.Send(ctx, []byte("x"), sockets.Raw), nanoact.ErrClosed)
			WantCode(t, "non-blocking Send after Close", s.Send(sockets.NonBlock(ctx), []byte("x"), sockets.Raw), nanoact.ErrClosed)
			_, err := s.Recv(ctx)
			WantCode(t, "Recv after Close", err, nanoact.ErrClosed)
			_, err = s.Context()
			WantCode(t, "Context after Close", err, nanoact.ErrClosed)
			_, err = s.Dial("inproc://conf-after-close")
			WantCode(t, "Dial after Close", err, nanoact.ErrClosed)
			_, err = s.Listen("inproc://conf-after-close")
			WantCode(t, "Listen after Close", err, nanoact.ErrClosed)
			WantCode(t, "Set after Close", sockets.Set(s, sockets.RecvTimeout, time.Second), nanoact.ErrClosed)
			_, err = sockets.Get(s, sockets.RecvTimeout)
			WantCode(t, "Get after Close", err, nanoact.ErrClosed)
			_, err = s.Stat("pipes")
			WantCode(t, "Stat after Close", err, nanoact.ErrClosed)
			select {
			case <-s.Done():
			default:
				t.Fatal("Done not closed after Close")
			}
		}})
	}
	for _, r := range receivers {
		if !r.ctxs {
			continue
		}
		p := r.proto
		cs = append(cs, ConfCase{Name: p.String() + "/close/context-after-close", Run: func(t *testing.T, k *Link) {
			ctx := CtxT(t)
			s, _ := k.Pair(p, p.Peer())
			c, err := s.Context()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, "second context Close", c.Close(), nanoact.ErrClosed)
			_, err = c.Recv(ctx)
			WantCode(t, "context Recv after Close", err, nanoact.ErrClosed)
			if p != sockets.Sub {
				WantCode(t, "context Send after Close", c.Send(ctx, []byte("x"), sockets.Raw), nanoact.ErrClosed)
			}
		}})
	}
	for _, p := range []sockets.Protocol{sockets.Push, sockets.Pair, sockets.Poly, sockets.Req} {
		cs = append(cs, ConfCase{Name: p.String() + "/close/blocking-send-socket-close", Run: func(t *testing.T, k *Link) {
			// No peer: the send waits until the socket closes (a
			// req's too: NNG completes it once a pipe takes it).
			s := k.Open(p)
			k.Listen(s)
			done := make(chan error, 1)
			go func() { done <- s.Send(CtxT(t), []byte("x"), sockets.Raw) }()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			WantCode(t, p.String()+" blocking operation at socket Close", <-done, nanoact.ErrClosed)
		}})
	}
	return cs
}
