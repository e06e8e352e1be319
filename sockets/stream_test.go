package sockets_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

func streamPair(t *testing.T, url string, opts ...sockets.StreamOption) (client, server *sockets.Stream) {
	t.Helper()
	l, err := sockets.ListenStream(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ctx := ctxT(t)
	accepted := make(chan *sockets.Stream, 1)
	go func() {
		s, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- s
	}()
	c, err := sockets.DialStream(ctx, l.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return c, s
}

func TestStreamsOverTransports(t *testing.T) {
	t.Parallel()
	urls := map[string]string{
		"tcp":      "tcp://127.0.0.1:0",
		"ipc":      "ipc://" + filepath.Join(t.TempDir(), "stream.ipc"),
		"abstract": fmt.Sprintf("abstract://nanoact-stream-%d", os.Getpid()),
		"ws":       "ws://127.0.0.1:0/stream",
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			c, s := streamPair(t, url)
			ctx := ctxT(t)
			if err := c.Send(ctx, "hello"); err != nil {
				t.Fatal(err)
			}
			v, err := s.RecvMode(ctx, sockets.Character)
			if err != nil || fmt.Sprint(v) != "[hello]" {
				t.Fatalf("server got %v %v", v, err)
			}
			if err := s.Send(ctx, []float64{1.5, 2}); err != nil {
				t.Fatal(err)
			}
			f, err := sockets.RecvAs[[]float64](ctx, c, sockets.Raw)
			if err != nil || len(f) != 2 || f[0] != 1.5 {
				t.Fatalf("client got %v %v", f, err)
			}
			// Non-blocking with nothing there: try again; a deadline: timed out.
			_, err = c.Recv(sockets.NonBlock(ctx))
			wantCode(t, err, nanoact.ErrTryAgain)
			dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			_, err = c.Recv(dctx)
			wantCode(t, err, nanoact.ErrTimedOut)
			// The stream still works after a time-out.
			if err := s.Send(ctx, "again"); err != nil {
				t.Fatal(err)
			}
			if v, err := sockets.RecvAs[string](ctx, c, sockets.Raw); err != nil || v != "again" {
				t.Fatalf("%q %v", v, err)
			}
			// The peer goes away: the stream ends.
			_ = s.Close()
			_, err = c.Recv(ctx)
			if err == nil {
				t.Fatal("receive after the peer closed succeeded")
			}
			_ = c.Close()
			_, err = c.Recv(ctx)
			wantCode(t, err, nanoact.ErrClosed)
			wantCode(t, c.Close(), nanoact.ErrClosed)
		})
	}
}

// The Go stream client against a websocket server written with gorilla,
// and the Go stream server against a gorilla client.
func TestStreamWebsocketInterop(t *testing.T) {
	t.Parallel()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			kind, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			reply := append([]byte(r.Header.Get("X-Who")+":"), b...)
			if c.WriteMessage(kind, reply) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx := ctxT(t)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/echo"
	c, err := sockets.DialStream(ctx, url, sockets.TextFrames(), sockets.RequestHeader("X-Who", "go"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(ctx, "ping"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, c, sockets.Raw); err != nil || v != "go:ping" {
		t.Fatalf("text frame echo %q %v", v, err)
	}

	l, err := sockets.ListenStream("ws://127.0.0.1:0/chat")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		ws, resp, err := websocket.DefaultDialer.Dial(l.URL(), http.Header{"X-Client": {"gorilla"}})
		if resp != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			t.Error(err)
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.BinaryMessage, []byte("from gorilla\x00"))
		_, b, err := ws.ReadMessage()
		if err != nil || string(b) != "ack\x00" {
			t.Errorf("gorilla got %q %v", b, err)
		}
	}()
	s, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Header().Get("X-Client") != "gorilla" {
		t.Fatalf("headers %v", s.Header())
	}
	if v, err := sockets.RecvAs[string](ctx, s, sockets.Raw); err != nil || v != "from gorilla" {
		t.Fatalf("%q %v", v, err)
	}
	if err := s.Send(ctx, "ack"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Recv(ctx) // gorilla closes after reading
	if err == nil {
		t.Fatal("expected the stream to end")
	}
}

func TestStreamErrors(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	_, err := sockets.DialStream(ctx, "inproc://x")
	wantCode(t, err, nanoact.ErrNotSupported)
	_, err = sockets.DialStream(ctx, "nonsense")
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = sockets.ListenStream("tcp://127.0.0.1:notaport")
	wantCode(t, err, nanoact.ErrAddrInvalid)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	_, err = sockets.DialStream(ctx, "tcp://"+addr)
	wantCode(t, err, nanoact.ErrConnRefused)
	l, err := sockets.ListenStream("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = sockets.ListenStream(l.URL())
	wantCode(t, err, nanoact.ErrAddrInUse)
	actx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = l.Accept(actx)
	wantCode(t, err, nanoact.ErrTimedOut)
	_ = l.Close()
	_, err = l.Accept(ctx)
	if err == nil {
		t.Fatal("accept on a closed listener")
	}
	wantCode(t, l.Close(), nanoact.ErrClosed)
}

// wss streams with a generated certificate; a client that does not trust
// it fails, and a listener without a server config is refused.
func TestStreamWSS(t *testing.T) {
	t.Parallel()
	srvCfg, certPEM := testkit.SelfSignedServer(t, "127.0.0.1")
	cliCfg, err := sockets.NewTLSClient(sockets.TLSCA(certPEM))
	if err != nil {
		t.Fatal(err)
	}
	l, err := sockets.ListenStream("wss://127.0.0.1:0/secure", sockets.TLS(srvCfg))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := ctxT(t)
	accepted := make(chan *sockets.Stream, 1)
	go func() {
		s, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- s
	}()
	// Untrusted: the system roots do not know our certificate.
	_, err = sockets.DialStream(ctx, l.URL())
	wantCode(t, err, nanoact.ErrPeerAuth)
	c, err := sockets.DialStream(ctx, l.URL(), sockets.TLS(cliCfg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	if s == nil {
		t.FailNow()
	}
	defer s.Close()
	if err := c.Send(ctx, "over tls"); err != nil {
		t.Fatal(err)
	}
	if v, err := sockets.RecvAs[string](ctx, s, sockets.Raw); err != nil || v != "over tls" {
		t.Fatalf("%q %v", v, err)
	}
	_, err = sockets.ListenStream("wss://127.0.0.1:0/x")
	wantCode(t, err, nanoact.ErrInvalid)
}
