package proto

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact"
)

// The engine's own tests drive protocols through fake pipes: the test is
// the peer, reading what a pipe writes and injecting what it reads, so
// every state of a pipe's writer (starting, busy, gone) can be held still.

// fakePipe is a mangos.ProtocolPipe whose writes wait for the test to take
// them (out), whose reads come from in, and which signals entered each time
// a write starts.
type fakePipe struct {
	id      uint32
	in      chan *Message
	out     chan *Message
	entered chan struct{}
	closed  chan struct{}
	once    sync.Once
	priv    atomic.Value
	sock    Socket // removed from on Close, as mangos' core does
}

var pipeIDs atomic.Uint32

func newFakePipe() *fakePipe {
	return &fakePipe{
		id:      pipeIDs.Add(1),
		in:      make(chan *Message),
		out:     make(chan *Message),
		entered: make(chan struct{}, 1024),
		closed:  make(chan struct{}),
	}
}

func (f *fakePipe) ID() uint32 { return f.id }

func (f *fakePipe) Close() error {
	f.once.Do(func() {
		close(f.closed)
		if f.sock != nil {
			f.sock.RemovePipe(f)
		}
	})
	return nil
}

func (f *fakePipe) SendMsg(m *Message) error {
	f.entered <- struct{}{}
	select {
	case f.out <- m:
		return nil
	case <-f.closed:
		return mangos.ErrClosed
	}
}

func (f *fakePipe) RecvMsg() *Message {
	select {
	case m := <-f.in:
		m.Pipe = f // as mangos' core marks what a pipe reads
		return m
	case <-f.closed:
		return nil
	}
}

func (f *fakePipe) SetPrivate(v any) { f.priv.Store(v) }
func (f *fakePipe) GetPrivate() any  { return f.priv.Load() }

// The rest of mangos.Pipe, for m.Pipe.
func (f *fakePipe) Address() string               { return "fake://" }
func (f *fakePipe) GetOption(string) (any, error) { return nil, mangos.ErrBadOption }
func (f *fakePipe) Listener() mangos.Listener     { return nil }
func (f *fakePipe) Dialer() mangos.Dialer         { return nil }

const wait = 5 * time.Second

// attach adds a fake pipe to s.
func attach(t *testing.T, s Socket) *fakePipe {
	t.Helper()
	f := newFakePipe()
	f.sock = s
	if err := s.AddPipe(f); err != nil {
		t.Fatalf("AddPipe: %v", err)
	}
	return f
}

// detach closes f, which removes it from s, as mangos' core does when a
// connection drops.
func detach(_ Socket, f *fakePipe) { _ = f.Close() }

// written returns the next message f's writer wrote, failing after 5 s.
func (f *fakePipe) written(t *testing.T) *Message {
	t.Helper()
	select {
	case m := <-f.out:
		return m
	case <-time.After(wait):
		t.Fatal("nothing written within 5s")
		return nil
	}
}

// busy waits until f's writer is inside a write (holding a message).
func (f *fakePipe) busy(t *testing.T) {
	t.Helper()
	select {
	case <-f.entered:
	case <-time.After(wait):
		t.Fatal("the writer did not start a write within 5s")
	}
}

// inject makes f read a message with the given 4-byte header word (none
// if hdr is false) and body.
func (f *fakePipe) inject(t *testing.T, word uint32, hdr bool, body string) {
	t.Helper()
	m := mangos.NewMessage(len(body))
	if hdr {
		m.Header = binary.BigEndian.AppendUint32(m.Header[:0], word)
	}
	m.Body = append(m.Body, body...)
	select {
	case f.in <- m:
	case <-time.After(wait):
		t.Fatal("the pipe's reader did not take the message within 5s")
	}
}

func open(t *testing.T, id ID) Socket {
	t.Helper()
	s, err := New(id, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func msg(body string) *Message {
	m := mangos.NewMessage(len(body))
	m.Body = append(m.Body, body...)
	return m
}

func nb() context.Context { return NonBlock(context.Background()) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, target *nanoact.Error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got %v, want %v", err, target)
	}
}

func drops(s Socket, r Drop) uint64 { return s.Counters().Drops[r] }

// eventually polls cond for up to 5 s (for counters, which have no event).
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// A pipe takes a message the moment it is added, its writer started or
// not (the shared queue has a place per pipe): a non-blocking send right
// after AddPipe succeeds, every time.
func TestEngineFirstSendAfterAddPipe(t *testing.T) {
	for _, id := range []ID{Push, Pair, Poly, Req} {
		t.Run(id.String(), func(t *testing.T) {
			for i := range 50 {
				s, _ := New(id, false)
				f := newFakePipe()
				f.sock = s
				if err := s.AddPipe(f); err != nil {
					t.Fatal(err)
				}
				if err := s.Send(nb(), msg("first")); err != nil {
					t.Fatalf("try %d: %v", i, err)
				}
				m := f.written(t)
				if string(m.Body) != "first" {
					t.Fatalf("wrote %q", m.Body)
				}
				m.Free()
				_ = s.Close()
			}
		})
	}
}

// A busy pipe takes one message more (its place in the shared queue), and
// no more.
func TestEnginePipeTakesOneMore(t *testing.T) {
	s := open(t, Push)
	f := attach(t, s)
	if err := s.Send(nb(), msg("0")); err != nil {
		t.Fatal(err)
	}
	f.busy(t) // the writer holds "0"
	if err := s.Send(nb(), msg("1")); err != nil {
		t.Fatalf("the pipe's place refused: %v", err)
	}
	wantCode(t, s.Send(nb(), msg("2")), nanoact.ErrTryAgain)
	if s.Flushed() {
		t.Fatal("Flushed with two messages pending")
	}
	for _, want := range []string{"0", "1"} {
		if m := f.written(t); string(m.Body) != want {
			t.Fatalf("wrote %q, want %q", m.Body, want)
		}
	}
	eventually(t, s.Flushed)
}

// One sender's messages keep their order, with or without a send buffer.
func TestEngineSendOrder(t *testing.T) {
	for _, buf := range []int{0, 1, 8} {
		t.Run(fmt.Sprint("buffer ", buf), func(t *testing.T) {
			s := open(t, Push)
			if err := s.(Buffered).SetBuffer(true, buf); err != nil {
				t.Fatal(err)
			}
			f := attach(t, s)
			const n = 500
			errc := make(chan error, 1)
			go func() {
				ctx := context.Background()
				for i := range n {
					if err := s.Send(ctx, msg(fmt.Sprint(i))); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := range n {
				if m := f.written(t); string(m.Body) != fmt.Sprint(i) {
					t.Fatalf("message %d is %q", i, m.Body)
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A message queued in the place of a pipe that dies goes to the next
// pipe, one connecting later included.
func TestEngineQueuedForDeadPipeSentAgain(t *testing.T) {
	s := open(t, Push)
	a := attach(t, s)
	_ = s.Send(nb(), msg("0"))
	a.busy(t)
	if err := s.Send(nb(), msg("1")); err != nil {
		t.Fatal(err)
	}
	detach(s, a)
	b := attach(t, s)
	if m := b.written(t); string(m.Body) != "1" {
		t.Fatalf("wrote %q", m.Body)
	}
}

// pub: a subscriber whose queue is full loses its oldest message, and the
// drop is counted.
func TestEnginePubDropsOldest(t *testing.T) {
	s := open(t, Pub)
	f := attach(t, s)
	_ = s.Send(nb(), msg("0"))
	f.busy(t) // the writer holds "0"; the queue holds 16
	for i := 1; i < 100; i++ {
		if err := s.Send(nb(), msg(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if got := drops(s, DropPubFull); got != 100-1-pipeQueueLen {
		t.Fatalf("drop_pub_full = %d", got)
	}
	want := []string{"0"}
	for i := 100 - pipeQueueLen; i < 100; i++ {
		want = append(want, fmt.Sprint(i))
	}
	for _, w := range want {
		if m := f.written(t); string(m.Body) != w {
			t.Fatalf("wrote %q, want %q", m.Body, w)
		}
	}
}

// bus and surveyor keep the old messages of a full peer and count the
// new ones they drop.
func TestEngineBroadcastFullCounted(t *testing.T) {
	s := open(t, Bus)
	f := attach(t, s)
	_ = s.Send(nb(), msg("0"))
	f.busy(t)
	for i := 1; i < 20; i++ {
		_ = s.Send(nb(), msg(fmt.Sprint(i)))
	}
	if got := drops(s, DropSendFull); got != 20-1-pipeQueueLen {
		t.Fatalf("drop_send_full = %d", got)
	}
	if m := f.written(t); string(m.Body) != "0" {
		t.Fatalf("wrote %q", m.Body)
	}
	if m := f.written(t); string(m.Body) != "1" {
		t.Fatalf("wrote %q", m.Body)
	}
}

// reqID reads a request's id from what a req pipe wrote.
func reqID(t *testing.T, m *Message) uint32 {
	t.Helper()
	if len(m.Header) != 4 {
		t.Fatalf("request header % x", m.Header)
	}
	return binary.BigEndian.Uint32(m.Header)
}

// req: a request whose pipe dies goes, at once, to a pipe that connects
// later; its reply completes the receive; a second reply is stale.
func TestEngineReqFailoverToLaterPipe(t *testing.T) {
	s := open(t, Req)
	a := attach(t, s)
	if err := s.Send(ctxT(t), msg("job")); err != nil {
		t.Fatal(err)
	}
	id := reqID(t, a.written(t))
	detach(s, a)
	b := attach(t, s)
	m := b.written(t)
	if reqID(t, m) != id || string(m.Body) != "job" {
		t.Fatalf("resent % x %q", m.Header, m.Body)
	}
	if got := drops(s, DropResent); got != 1 {
		t.Fatalf("req_resent = %d", got)
	}
	b.inject(t, id, true, "done")
	r, err := s.Recv(ctxT(t))
	if err != nil || string(r.Body) != "done" {
		t.Fatalf("%v %v", r, err)
	}
	b.inject(t, id, true, "again")
	eventually(t, func() bool { return drops(s, DropStaleReply) == 1 })
}

// req: the resend timer sends an unanswered request again on the same
// pipe, and a resend waits for a busy pipe instead of being lost.
func TestEngineReqResendTimer(t *testing.T) {
	s := open(t, Req)
	s.(Resender).SetResendTime(10 * time.Millisecond)
	f := attach(t, s)
	if err := s.Send(ctxT(t), msg("job")); err != nil {
		t.Fatal(err)
	}
	id := reqID(t, f.written(t))
	for range 3 {
		if m := f.written(t); reqID(t, m) != id {
			t.Fatalf("resent id %x, want %x", reqID(t, m), id)
		}
	}
	if drops(s, DropResent) < 3 {
		t.Fatalf("req_resent = %d", drops(s, DropResent))
	}
}

// req: a resend waiting for a pipe is not sent once its request is
// abandoned (NNG takes it off its send queue).
func TestEngineReqAbandonedResendNotSent(t *testing.T) {
	s := open(t, Req)
	c1, _ := s.NewContext()
	c2, _ := s.NewContext()
	a := attach(t, s)
	if err := c1.Send(ctxT(t), msg("one")); err != nil {
		t.Fatal(err)
	}
	a.written(t)
	detach(s, a) // "one" waits in the backlog for a pipe
	_ = c1.Close()
	b := attach(t, s)
	if err := c2.Send(ctxT(t), msg("two")); err != nil {
		t.Fatal(err)
	}
	if m := b.written(t); string(m.Body) != "two" {
		t.Fatalf("wrote %q first", m.Body)
	}
}

// The state errors of NNG's protocols, and operations a protocol lacks.
func TestEngineStateErrors(t *testing.T) {
	_, err := open(t, Req).Recv(nb())
	wantCode(t, err, nanoact.ErrState)
	wantCode(t, open(t, Rep).Send(nb(), msg("x")), nanoact.ErrState)
	wantCode(t, open(t, Respondent).Send(nb(), msg("x")), nanoact.ErrState)
	_, err = open(t, Surveyor).Recv(nb())
	wantCode(t, err, nanoact.ErrState)
	wantCode(t, open(t, Pull).Send(nb(), msg("x")), nanoact.ErrNotSupported)
	wantCode(t, open(t, Sub).Send(nb(), msg("x")), nanoact.ErrNotSupported)
	_, err = open(t, Push).Recv(nb())
	wantCode(t, err, nanoact.ErrNotSupported)
	_, err = open(t, Pub).Recv(nb())
	wantCode(t, err, nanoact.ErrNotSupported)
	_, err = open(t, Pair).NewContext()
	wantCode(t, err, nanoact.ErrNotSupported)

	p := open(t, Pair)
	attach(t, p)
	if err := p.AddPipe(newFakePipe()); err == nil {
		t.Fatal("pair took a second pipe")
	}
}

// collector is a Completer that hands its outcome to the test.
type collector chan result

type result struct {
	m   *Message
	err error
}

func (c collector) Complete(m *Message, err error) { c <- result{m, err} }

func (c collector) wait(t *testing.T) result {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(wait):
		t.Fatal("not completed within 5s")
		return result{}
	}
}

func (c collector) pending(t *testing.T) {
	t.Helper()
	select {
	case r := <-c:
		t.Fatalf("completed with %v %v, want pending", r.m, r.err)
	default:
	}
}

// An asynchronous receive waits without a goroutine, is completed by the
// pipe that brings a message, can be cancelled while it waits, and fails
// with ErrClosed when the socket closes.
func TestEngineWaiters(t *testing.T) {
	s, _ := New(Pull, false)
	f := attach(t, s)

	c := make(collector, 1)
	w := &Waiter{C: c}
	s.RecvAsync(w)
	c.pending(t)
	f.inject(t, 0, false, "hello")
	if r := c.wait(t); r.err != nil || string(r.m.Body) != "hello" {
		t.Fatalf("%v %v", r.m, r.err)
	}
	if s.CancelRecv(w) {
		t.Fatal("cancelled a completed receive")
	}

	c2 := make(collector, 1)
	w2 := &Waiter{C: c2}
	s.RecvAsync(w2)
	if !s.CancelRecv(w2) {
		t.Fatal("could not cancel a waiting receive")
	}
	c2.pending(t)

	c3 := make(collector, 1)
	s.RecvAsync(&Waiter{C: c3})
	_ = s.Close()
	wantCode(t, c3.wait(t).err, nanoact.ErrClosed)
	c4 := make(collector, 1)
	s.RecvAsync(&Waiter{C: c4})
	wantCode(t, c4.wait(t).err, nanoact.ErrClosed)
}

// Closing a context ends its receives, blocking and asynchronous, with
// ErrClosed; for req and surveyor, whose close also abandons the request
// or survey, on every try.
func TestEngineContextCloseEndsReceives(t *testing.T) {
	for _, id := range []ID{Req, Surveyor, Rep, Respondent, Sub} {
		t.Run(id.String(), func(t *testing.T) {
			for range 50 {
				s, _ := New(id, false)
				attach(t, s)
				c, err := s.NewContext()
				if err != nil {
					t.Fatal(err)
				}
				if id == Req || id == Surveyor {
					if st, ok := c.(SurveyTimer); ok {
						st.SetSurveyTime(time.Minute)
					}
					if err := c.Send(ctxT(t), msg("q")); err != nil {
						t.Fatal(err)
					}
				}
				col := make(collector, 1)
				c.RecvAsync(&Waiter{C: col})
				errc := make(chan error, 1)
				go func() {
					_, err := c.Recv(context.Background())
					errc <- err
				}()
				col.pending(t)
				_ = c.Close()
				wantCode(t, col.wait(t).err, nanoact.ErrClosed)
				select {
				case err := <-errc:
					wantCode(t, err, nanoact.ErrClosed)
				case <-time.After(wait):
					t.Fatal("blocking receive not ended")
				}
				_ = s.Close()
			}
		})
	}
}

// A receive queue resized under a blocked receive: the receive moves to
// the new queue and gets the next message.
func TestEngineResizeUnderBlockedRecv(t *testing.T) {
	s := open(t, Pull)
	f := attach(t, s)
	got := make(chan string, 1)
	go func() {
		m, err := s.Recv(ctxT(t))
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(m.Body)
	}()
	if err := s.(Buffered).SetBuffer(false, 4); err != nil {
		t.Fatal(err)
	}
	f.inject(t, 0, false, "after")
	select {
	case b := <-got:
		if b != "after" {
			t.Fatal(b)
		}
	case <-time.After(wait):
		t.Fatal("the blocked receive stayed on the old queue")
	}
	if n, _ := s.(Buffered).Buffer(false); n != 4 {
		t.Fatalf("Buffer = %d", n)
	}
}

// Shrinking a receive queue drops its oldest messages, counted; shrinking
// a send queue keeps every message, in order.
func TestEngineResizeShrink(t *testing.T) {
	pull := open(t, Pull)
	f := attach(t, pull)
	for i := range 10 {
		f.inject(t, 0, false, fmt.Sprint(i))
	}
	eventually(t, func() bool { return pull.Counters().RxMsgs == 10 })
	_ = pull.(Buffered).SetBuffer(false, 3)
	for _, want := range []string{"7", "8", "9"} {
		m, err := pull.Recv(nb())
		if err != nil || string(m.Body) != want {
			t.Fatalf("got %v %v, want %s", m, err, want)
		}
	}
	if got := drops(pull, DropRecvFull); got != 7 {
		t.Fatalf("drop_recv_full = %d", got)
	}

	push := open(t, Push)
	_ = push.(Buffered).SetBuffer(true, 6)
	for i := range 6 {
		if err := push.Send(nb(), msg(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	_ = push.(Buffered).SetBuffer(true, 2)
	g := attach(t, push)
	for i := range 6 {
		if m := g.written(t); string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Body)
		}
	}
}

// A sub context's full queue drops (and counts) its oldest message with
// sub:prefnew, the new one without.
func TestEngineSubQueueFull(t *testing.T) {
	for _, prefNew := range []bool{true, false} {
		t.Run(fmt.Sprint("prefnew ", prefNew), func(t *testing.T) {
			s := open(t, Sub)
			_ = s.(Buffered).SetBuffer(false, 2)
			s.(PrefNewer).SetPrefNew(prefNew)
			_ = s.(Subscriber).Subscribe(nil)
			f := attach(t, s)
			for i := range 5 {
				f.inject(t, 0, false, fmt.Sprint(i))
			}
			eventually(t, func() bool { return s.Counters().RxMsgs == 5 })
			want := []string{"3", "4"}
			if !prefNew {
				want = []string{"0", "1"}
			}
			for _, w := range want {
				m, err := s.Recv(nb())
				if err != nil || string(m.Body) != w {
					t.Fatalf("got %v %v, want %s", m, err, w)
				}
			}
			if got := drops(s, DropRecvFull); got != 3 {
				t.Fatalf("drop_recv_full = %d", got)
			}
		})
	}
}

// surveyor: an answer to a survey that is over is dropped and counted;
// a malformed one too.
func TestEngineSurveyorLateAnswer(t *testing.T) {
	s := open(t, Surveyor)
	f := attach(t, s)
	_ = s.Send(ctxT(t), msg("s1"))
	id := reqID(t, f.written(t))
	_ = s.Send(ctxT(t), msg("s2")) // ends s1
	f.written(t)
	f.inject(t, id, true, "late")
	eventually(t, func() bool { return drops(s, DropLateAnswer) == 1 })
	f.inject(t, 0, false, "no") // too short for a survey id
	eventually(t, func() bool { return drops(s, DropBad) == 1 })
}

// rep answers along the backtrace to the pipe the request came on; a
// reply for a pipe that is gone is dropped and counted.
func TestEngineRepRoundTrip(t *testing.T) {
	s := open(t, Rep)
	f := attach(t, s)
	f.inject(t, 0x80000007, true, "question")
	m, err := s.Recv(ctxT(t))
	if err != nil || string(m.Body) != "question" {
		t.Fatalf("%v %v", m, err)
	}
	if err := s.Send(ctxT(t), msg("answer")); err != nil {
		t.Fatal(err)
	}
	r := f.written(t)
	if reqID(t, r) != 0x80000007 || string(r.Body) != "answer" {
		t.Fatalf("reply % x %q", r.Header, r.Body)
	}
	wantCode(t, s.Send(nb(), msg("twice")), nanoact.ErrState)

	f.inject(t, 0x80000008, true, "again")
	if _, err := s.Recv(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	detach(s, f)
	if err := s.Send(nb(), msg("too late")); err != nil {
		t.Fatal(err) // dropped, as NNG: the send succeeds
	}
	if got := drops(s, DropPipeGone); got != 1 {
		t.Fatalf("drop_pipe_gone = %d", got)
	}
	f2 := attach(t, s)
	f2.inject(t, 1, false, "") // no backtrace: malformed
	eventually(t, func() bool { return drops(s, DropBad) == 1 })
}

// Cancelling a req's asynchronous receive abandons the request: its late
// reply is counted stale.
func TestEngineReqCancelAbandons(t *testing.T) {
	s := open(t, Req)
	f := attach(t, s)
	if err := s.Send(ctxT(t), msg("q")); err != nil {
		t.Fatal(err)
	}
	id := reqID(t, f.written(t))
	c := make(collector, 1)
	w := &Waiter{C: c}
	s.RecvAsync(w)
	if !s.CancelRecv(w) {
		t.Fatal("could not cancel")
	}
	f.inject(t, id, true, "late")
	eventually(t, func() bool { return drops(s, DropStaleReply) == 1 })
	_, err := s.Recv(nb())
	wantCode(t, err, nanoact.ErrState)
	c.pending(t)
}

// A staged request is registered at once; a non-blocking queueing that
// misses keeps it for a later try, and a newer request cancels a
// queueing still waiting.
func TestEngineReqStage(t *testing.T) {
	s := open(t, Req)
	st := s.(Stager)
	queue, err := st.Stage(msg("one"))
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, queue(nb()), nanoact.ErrTryAgain) // no pipe yet
	_, err = s.Recv(nb())
	wantCode(t, err, nanoact.ErrTryAgain) // registered: waiting for its reply
	f := attach(t, s)
	if err := queue(nb()); err != nil {
		t.Fatalf("retry after a pipe came: %v", err)
	}
	f.busy(t) // the writer holds "one"; the pipe's place is free

	if err := s.Send(nb(), msg("two")); err != nil { // takes the place
		t.Fatal(err)
	}
	q3, err := st.Stage(msg("three"))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- q3(context.Background()) }() // waits for room
	if _, err := st.Stage(msg("four")); err != nil { // replaces "three"
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		wantCode(t, err, nanoact.ErrCanceled)
	case <-time.After(wait):
		t.Fatal("the replaced queueing kept waiting")
	}
}

// poly: a message over the hop limit is dropped and counted; SendTo goes
// to the chosen pipe only.
func TestEnginePoly(t *testing.T) {
	s := open(t, Poly)
	a, b := attach(t, s), attach(t, s)
	a.inject(t, defaultTTL, true, "too far")
	eventually(t, func() bool { return drops(s, DropBad) == 1 })
	a.inject(t, 1, true, "near")
	m, err := s.Recv(ctxT(t))
	if err != nil || string(m.Body) != "near" {
		t.Fatalf("%v %v", m, err)
	}
	if err := s.(DirectSender).SendTo(ctxT(t), b.ID(), msg("to b")); err != nil {
		t.Fatal(err)
	}
	if m := b.written(t); string(m.Body) != "to b" {
		t.Fatalf("b wrote %q", m.Body)
	}
}

// req: a request that does not resend fails with ErrConnReset when its
// pipe dies, but with ErrClosed when the pipe dies because the socket is
// closing (the dialers and listeners close their pipes before the
// protocol closes), whichever wake-up the receive sees first.
func TestEngineReqPipeLostWhileClosing(t *testing.T) {
	for _, closing := range []bool{false, true} {
		s := open(t, Req)
		s.(Resender).SetResendTime(0)
		f := attach(t, s)
		if err := s.Send(ctxT(t), msg("job")); err != nil {
			t.Fatal(err)
		}
		f.written(t)
		col := make(collector, 1)
		s.RecvAsync(&Waiter{C: col})
		if closing {
			s.BeginClose()
		}
		detach(s, f)
		if !closing {
			wantCode(t, col.wait(t).err, nanoact.ErrConnReset)
			continue
		}
		col.pending(t)
		_ = s.Close()
		wantCode(t, col.wait(t).err, nanoact.ErrClosed)
	}
}

// Growing a receive queue while one pipe delivers into it never reorders
// that pipe's messages: a message waiting for room on the old queue must
// not overtake the ones a resize is still moving across.
func TestEngineResizeKeepsPipeOrder(t *testing.T) {
	s := open(t, Pull)
	f := attach(t, s)
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			f.inject(t, 0, false, fmt.Sprint(i))
		}
	}()
	last := -1
	for got := 0; got < n; got++ {
		if got%7 == 0 {
			_ = s.(Buffered).SetBuffer(false, 1+got%5) // never below what is queued: 1..5, grown and shrunk
		}
		m, err := s.Recv(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var i int
		fmt.Sscan(string(m.Body), &i)
		m.Free()
		if i <= last {
			t.Fatalf("message %d after %d", i, last)
		}
		last = i
		if i == n-1 {
			break
		}
	}
	<-done
}

// A sub socket's receive queue resized, from another goroutine, while a
// pipe delivers to it and to a context: each receiver still gets the
// pipe's messages in order (sub:prefnew may drop the oldest, never
// reorder), and gets the last one. The pipe's reader puts on the
// contexts' queues under the lock a resize takes, so no put lands while
// a resize moves messages across; a receive racing the move must not
// take a later message than one the move has already carried over.
func TestEngineSubResizeKeepsOrder(t *testing.T) {
	s := open(t, Sub)
	_ = s.(Subscriber).Subscribe(nil)
	c, err := s.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(Subscriber).Subscribe(nil)
	f := attach(t, s)
	const n = 3000
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the producer
		defer wg.Done()
		for i := range n {
			f.inject(t, 0, false, fmt.Sprint(i))
		}
	}()
	go func() { // until both receivers are done
		defer wg.Done()
		keepResizing(s.(Buffered), false, stop, func(i int) int { return 16 + i%32 })
	}()
	inOrder := func(recv func(context.Context) (*Message, error)) error {
		last := -1
		for last != n-1 {
			m, err := recv(ctxT(t))
			if err != nil {
				return err
			}
			var i int
			fmt.Sscan(string(m.Body), &i)
			m.Free()
			if i <= last {
				return fmt.Errorf("message %d after %d", i, last)
			}
			last = i
			runtime.Gosched()
		}
		return nil
	}
	errs := make(chan error, 2)
	go func() { errs <- inOrder(s.Recv) }()
	go func() { errs <- inOrder(c.Recv) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

// A send queue resized, from another goroutine, while one sender fills it
// and one pipe's writer takes from it: the pipe writes the messages in
// the order they were sent, none lost (a shrink hands the excess to the
// backlog, which is written first). A writer racing the move must not
// take a later message than one the move has already carried over.
func TestEngineSendResizeKeepsOrder(t *testing.T) {
	s := open(t, Push)
	f := attach(t, s)
	const n = 3000
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	sendErr := make(chan error, 1)
	go func() { // the sender
		defer wg.Done()
		for i := range n {
			if err := s.Send(ctxT(t), msg(fmt.Sprint(i))); err != nil {
				sendErr <- err
				return
			}
		}
	}()
	go func() { // until the pipe wrote all
		defer wg.Done()
		keepResizing(s.(Buffered), true, stop, func(i int) int { return i % 32 })
	}()
	defer func() { close(stop); wg.Wait() }()
	for want := range n {
		var m *Message
		select {
		case m = <-f.out:
		case err := <-sendErr:
			t.Fatal(err)
		case <-time.After(wait):
			t.Fatalf("message %d not written within 5s", want)
		}
		for len(f.entered) > 0 { // SendMsg counts its entries; keep room
			<-f.entered
		}
		if got := string(m.Body); got != fmt.Sprint(want) {
			t.Fatalf("wrote %s where %d was due", got, want)
		}
		m.Free()
	}
}

// keepResizing resizes b's send or receive queue to size(0), size(1), ...
// until stop is closed.
func keepResizing(b Buffered, send bool, stop <-chan struct{}, size func(int) int) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		_ = b.SetBuffer(send, size(i))
	}
}
