package sockets_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

func TestOptionsGetSet(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Req)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Defaults, as NNG's.
	if v, _ := sockets.Get(s, sockets.RecvSizeMax); v != 0 {
		t.Fatalf("recv-size-max default %d", v)
	}
	if v, _ := sockets.Get(s, sockets.RecvTimeout); v >= 0 {
		t.Fatalf("recv-timeout default %v", v)
	}
	if v, _ := sockets.Get(s, sockets.ResendTime); v != time.Minute {
		t.Fatalf("resend default %v", v)
	}
	if v, _ := sockets.Get(s, sockets.ReconnectTimeMin); v != time.Second {
		t.Fatalf("reconnect min default %v", v)
	}
	if v, _ := sockets.Get(s, sockets.TCPNoDelay); !v {
		t.Fatal("tcp-nodelay default false")
	}
	if v, _ := sockets.Get(s, sockets.SocketName); v != strconv.Itoa(int(s.ID())) {
		t.Fatalf("socket-name default %q", v)
	}
	must(sockets.Set(s, sockets.RecvSizeMax, 4096))
	must(sockets.Set(s, sockets.SocketName, "client"))
	must(sockets.Set(s, sockets.ResendTime, 250*time.Millisecond))
	must(sockets.SetOption(s, "reconnect-time-max", 5000)) // ms, as NNG
	if v, _ := sockets.Get(s, sockets.RecvSizeMax); v != 4096 {
		t.Fatalf("recv-size-max %d", v)
	}
	if v, _ := sockets.GetOption(s, "reconnect-time-max"); v != 5*time.Second {
		t.Fatalf("reconnect-time-max %v", v)
	}
	if v, _ := sockets.Get(s, sockets.ProtocolName); v != "req" {
		t.Fatalf("protocol-name %q", v)
	}
	if v, _ := sockets.Get(s, sockets.PeerName); v != "rep" {
		t.Fatalf("peer-name %q", v)
	}
	// Errors with NNG's codes.
	wantCode(t, sockets.SetOption(s, "no-such-option", 1), nanoact.ErrNotSupported)
	_, err := sockets.GetOption(s, "no-such-option")
	wantCode(t, err, nanoact.ErrNotSupported)
	wantCode(t, sockets.SetOption(s, "recv-timeout", "soon"), nanoact.ErrBadType)
	wantCode(t, sockets.SetOption(s, "tcp-nodelay", 1), nanoact.ErrBadType)
	wantCode(t, sockets.Set(s, sockets.RawMode, true), nanoact.ErrReadOnly)
	wantCode(t, sockets.Set(s, sockets.RecvSizeMax, -1), nanoact.ErrInvalid)
	wantCode(t, sockets.Set(s, sockets.SocketName, strings.Repeat("x", 64)), nanoact.ErrInvalid)
	wantCode(t, sockets.Set(s, sockets.SurveyTime, time.Second), nanoact.ErrNotSupported)
	wantCode(t, sockets.Set(s, sockets.SubPrefNew, true), nanoact.ErrNotSupported)
	_, err = sockets.GetOption(open(t, sockets.Sub), "sub:subscribe")
	wantCode(t, err, nanoact.ErrWriteOnly)
	wantCode(t, sockets.Set(s, sockets.IPCPermissions, 0o600), nanoact.ErrNotSupported)
	_ = s.Close()
	wantCode(t, sockets.Set(s, sockets.RecvSizeMax, 1), nanoact.ErrClosed)
	if len(sockets.OptionNames()) < 15 {
		t.Fatal("option table too small")
	}
}

// recv-timeout and send-timeout govern blocking calls without deadline;
// contexts take the socket's values when opened and have their own after.
func TestTimeoutOptions(t *testing.T) {
	t.Parallel()
	pull := open(t, sockets.Pull)
	if err := sockets.Set(pull, sockets.RecvTimeout, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	_, err := pull.Recv(context.Background())
	wantCode(t, err, nanoact.ErrTimedOut)
	push := open(t, sockets.Push)
	_ = sockets.SetOption(push, "send-timeout", 20)
	wantCode(t, push.Send(context.Background(), "x"), nanoact.ErrTimedOut)

	req := open(t, sockets.Req)
	_ = sockets.Set(req, sockets.RecvTimeout, 30*time.Millisecond)
	c := mustContext(t, req)
	if v, _ := sockets.Get(c, sockets.RecvTimeout); v != 30*time.Millisecond {
		t.Fatalf("context recv-timeout %v", v)
	}
	_ = sockets.Set(c, sockets.RecvTimeout, -1)
	if v, _ := sockets.Get(req, sockets.RecvTimeout); v != 30*time.Millisecond {
		t.Fatalf("socket recv-timeout changed by its context: %v", v)
	}
}

// An unanswered request is sent again after req:resend-time; a late reply
// to the first copy is dropped, as a duplicate.
func TestResendTime(t *testing.T) {
	t.Parallel()
	req, rep := open(t, sockets.Req), open(t, sockets.Rep)
	connect(t, rep, req, fmt.Sprintf("inproc://resend-%d", seq.Add(1)))
	if err := sockets.Set(req, sockets.ResendTime, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := req.Send(ctx, "again?"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first copy, then the resent one
		if v, err := sockets.RecvAs[string](ctx, rep); err != nil || v != "again?" {
			t.Fatalf("%q %v", v, err)
		}
	}
	if err := rep.Send(ctx, "yes"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, req); err != nil || v != "yes" {
		t.Fatalf("%q %v", v, err)
	}
}

// When the connection carrying a request dies, the request goes at once to
// another rep; with resending off, it fails with ErrConnReset.
func TestRequestOnDeadConnection(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	url := fmt.Sprintf("inproc://dead-%d", seq.Add(1))
	url2 := fmt.Sprintf("inproc://dead2-%d", seq.Add(1))
	req := open(t, sockets.Req)
	repA := open(t, sockets.Rep)
	if _, err := repA.Listen(url); err != nil {
		t.Fatal(err)
	}
	if _, err := req.Dial(url, sockets.Sync); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return repA.Pipes() == 1 })
	if err := req.Send(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if _, err := repA.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	repB := open(t, sockets.Rep)
	if _, err := repB.Listen(url2); err != nil {
		t.Fatal(err)
	}
	if _, err := req.Dial(url2, sockets.Sync); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return repB.Pipes() == 1 })
	_ = repA.Close() // A dies holding the request
	if v, err := sockets.RecvAs[string](ctx, repB); err != nil || v != "work" {
		t.Fatalf("B got %q %v", v, err)
	}
	_ = repB.Send(ctx, "done by B")
	if v, err := sockets.RecvAs[string](ctx, req); err != nil || v != "done by B" {
		t.Fatalf("%q %v", v, err)
	}

	// Resending off: the request fails when its connection dies.
	req2 := open(t, sockets.Req)
	if err := sockets.Set(req2, sockets.ResendTime, 0); err != nil {
		t.Fatal(err)
	}
	repC := open(t, sockets.Rep)
	connect(t, repC, req2, fmt.Sprintf("inproc://dead3-%d", seq.Add(1)))
	if err := req2.Send(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	if _, err := repC.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	_ = repC.Close()
	_, err := req2.Recv(ctx)
	wantCode(t, err, nanoact.ErrConnReset)
}

// A full sub queue drops its oldest message by default, the new one with
// sub:prefnew false.
func TestSubPrefNew(t *testing.T) {
	t.Parallel()
	for _, prefNew := range []bool{true, false} {
		t.Run(strconv.FormatBool(prefNew), func(t *testing.T) {
			pub, sub := open(t, sockets.Pub), open(t, sockets.Sub)
			if err := sockets.Set(sub, sockets.RecvBuffer, 2); err != nil {
				t.Fatal(err)
			}
			if err := sockets.Set(sub, sockets.SubPrefNew, prefNew); err != nil {
				t.Fatal(err)
			}
			_ = sub.Subscribe("")
			connect(t, pub, sub, fmt.Sprintf("inproc://prefnew-%d", seq.Add(1)))
			ctx := ctxT(t)
			for i := range 5 {
				_ = pub.Send(ctx, []int32{int32(i)}, sockets.Raw)
			}
			// Wait until the last message has been processed by the sub.
			want := []int32{3, 4}
			if !prefNew {
				want = []int32{0, 1}
			}
			// All five reached the sub before we look at its queue.
			eventually(t, func() bool { return stat(t, sub, "rx_msgs") == 5 })
			for _, w := range want {
				v, err := sockets.RecvAs[int32](ctx, sub, sockets.Raw)
				if err != nil || v != w {
					t.Fatalf("got %v %v, want %d", v, err, w)
				}
			}
			_, err := sub.Recv(sockets.NonBlock(ctx))
			wantCode(t, err, nanoact.ErrTryAgain)
			// Settable once connected too, as in NNG.
			if err := sockets.Set(sub, sockets.RecvBuffer, 8); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSendBuffer(t *testing.T) {
	t.Parallel()
	push := open(t, sockets.Push)
	if err := sockets.Set(push, sockets.SendBuffer, 3); err != nil {
		t.Fatal(err)
	}
	nb := sockets.NonBlock(context.Background())
	for i := range 3 {
		if err := push.Send(nb, i); err != nil {
			t.Fatalf("send %d into the buffer: %v", i, err)
		}
	}
	wantCode(t, push.Send(nb, 3), nanoact.ErrTryAgain)
	wantCode(t, sockets.Set(push, sockets.SendBuffer, 9000), nanoact.ErrInvalid)
	_, err := sockets.Get(open(t, sockets.Pub), sockets.SendBuffer)
	wantCode(t, err, nanoact.ErrNotSupported)
}

// Options set on a dialer created with Later apply when it starts.
func TestEndpointOptions(t *testing.T) {
	t.Parallel()
	push := open(t, sockets.Push)
	l, err := push.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port, err := sockets.Get(l, sockets.TCPBoundPort)
	if err != nil || port == 0 || !strings.HasSuffix(l.URL(), ":"+strconv.Itoa(port)) {
		t.Fatalf("bound port %d %v (url %s)", port, err, l.URL())
	}
	if u, _ := sockets.Get(l, sockets.URL); u != l.URL() {
		t.Fatalf("url option %q", u)
	}
	wantCode(t, sockets.Set(l, sockets.URL, "x"), nanoact.ErrReadOnly)

	log, logs := observed()
	pull := open(t, sockets.Pull, sockets.WithLogger(log))
	d, err := pull.Dial(l.URL(), sockets.Later)
	if err != nil {
		t.Fatal(err)
	}
	if err := sockets.Set(d, sockets.RecvSizeMax, 100); err != nil {
		t.Fatal(err)
	}
	if err := sockets.Set(d, sockets.ReconnectTimeMin, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if v, _ := sockets.Get(d, sockets.RecvSizeMax); v != 100 {
		t.Fatalf("dialer recv-size-max %d", v)
	}
	if err := d.Start(sockets.Sync); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return push.Pipes() == 1 })
	ctx := ctxT(t)
	_ = push.Send(ctx, make([]byte, 200), sockets.Raw)
	eventually(t, logged(logs, "message over recv-size-max: connection closed"))
	_ = d.Close()
	wantCode(t, sockets.Set(d, sockets.RecvSizeMax, 1), nanoact.ErrNotFound)
}
