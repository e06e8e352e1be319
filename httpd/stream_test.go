package httpd_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/ncurl"
)

func TestFormatSSE(t *testing.T) {
	cases := []struct {
		ev   httpd.Event
		want string
	}{
		{httpd.Event{Data: "Hello"}, "data: Hello\n\n"},
		{httpd.Event{Data: "Hello", Event: "greeting"}, "event: greeting\ndata: Hello\n\n"},
		{httpd.Event{Data: "Line 1\nLine 2"}, "data: Line 1\ndata: Line 2\n\n"},
		{httpd.Event{Data: "a\r\nb\rc", ID: "7", Retry: 1500 * time.Millisecond}, "id: 7\nretry: 1500\ndata: a\ndata: b\ndata: c\n\n"},
		{httpd.Event{Data: "x", Event: "e\nvil", ID: "1\r\n2"}, "event: evil\nid: 12\ndata: x\n\n"},
		{httpd.Event{}, "data: \n\n"},
	}
	for _, c := range cases {
		if got := string(httpd.FormatSSE(c.ev)); got != c.want {
			t.Errorf("FormatSSE(%+v) = %q, want %q", c.ev, got, c.want)
		}
	}
}

// streamClient is a net/http client whose idle connections the test
// closes.
func streamClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// A client that disconnects mid-stream: on-close runs, the stream's
// goroutine returns (goleak checks at the end), sends fail with ErrClosed.
func TestSSEClientDisconnects(t *testing.T) {
	ctx := testCtx(t)
	conns := make(chan *httpd.StreamConn, 1)
	closed := make(chan uint64, 1)
	var h *httpd.StreamHandler
	h = httpd.Stream("/events", func(c *httpd.StreamConn, req *httpd.Request) {
		_ = c.SetHeader("Content-Type", "text/event-stream")
		_ = c.SetHeader("Cache-Control", "no-cache")
		if err := c.Send(httpd.FormatSSE(httpd.Event{Data: "connected", ID: req.Header.Get("Last-Event-ID") + "1"})); err != nil {
			t.Errorf("Send: %v", err)
		}
		if err := c.SetHeader("X-Late", "1"); !errors.Is(err, nanoact.ErrState) {
			t.Errorf("SetHeader after Send: %v", err)
		}
		conns <- c
	}, func(c *httpd.StreamConn) {
		// A closed stream no longer counts, by the time onClose runs.
		if n := h.Conns(); n != 0 {
			t.Errorf("Conns = %d in onClose", n)
		}
		closed <- c.ID()
	}, httpd.Method("GET"))
	s := serve(t, []httpd.Handler{h})
	rctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(rctx, "GET", s.URL()+"/events", nil)
	req.Header.Set("Last-Event-ID", "4")
	resp, err := streamClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("Content-Type %q, Transfer-Encoding %v", ct, resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	c := recvOn(t, conns, "stream")
	readEvent := func() string {
		var lines []string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if l == "\n" {
				return strings.Join(lines, "")
			}
			lines = append(lines, l)
		}
	}
	if ev := readEvent(); ev != "id: 41\ndata: connected\n" {
		t.Fatalf("first event %q", ev)
	}
	if n := h.Broadcast(httpd.FormatSSE(httpd.Event{Data: "tick", Event: "t"})); n != 1 {
		t.Fatalf("Broadcast reached %d", n)
	}
	if ev := readEvent(); ev != "event: t\ndata: tick\n" {
		t.Fatalf("broadcast event %q", ev)
	}
	cancel() // the client goes away
	_ = resp.Body.Close()
	if id := recvOn(t, closed, "on-close"); id != c.ID() {
		t.Fatalf("closed %d, want %d", id, c.ID())
	}
	if err := c.Send([]byte("x")); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("Send after disconnect: %v", err)
	}
	if h.Conns() != 0 {
		t.Fatalf("Conns = %d after disconnect", h.Conns())
	}
}

// A stream the handler closes ends its response: ncurl reads it whole.
func TestStreamClosedByHandler(t *testing.T) {
	ctx := testCtx(t)
	closed := make(chan struct{}, 1)
	s := serve(t, []httpd.Handler{
		httpd.Stream("/ndjson", func(c *httpd.StreamConn, req *httpd.Request) {
			_ = c.SetStatus(202)
			_ = c.SetHeader("Content-Type", "application/x-ndjson")
			go func() { // sends from another goroutine, then closes
				for i := range 3 {
					_ = c.Send([]byte(`{"i":` + string(rune('0'+i)) + "}\n"))
				}
				_ = c.Close()
			}()
		}, func(*httpd.StreamConn) { closed <- struct{}{} }),
		httpd.Stream("/empty", func(c *httpd.StreamConn, _ *httpd.Request) {
			_ = c.SetStatus(204)
			_ = c.Close()
		}, nil),
		httpd.Stream("/panic", func(*httpd.StreamConn, *httpd.Request) { panic("stream boom") }, nil),
	})
	r, err := ncurl.Get(ctx, s.URL()+"/ndjson", ncurl.ResponseHeaders("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 202 || r.Text != "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n" || r.Headers["Content-Type"] != "application/x-ndjson" {
		t.Fatalf("%+v", r)
	}
	recvOn(t, closed, "on-close")
	if r, err := ncurl.Get(ctx, s.URL()+"/empty"); err != nil || r.Status != 204 {
		t.Fatalf("%v %+v", err, r)
	}
	if r, err := ncurl.Get(ctx, s.URL()+"/panic"); err != nil || r.Status != 500 {
		t.Fatalf("%v %+v", err, r)
	}
}

// Shutdown ends open streams (they get their terminal chunk) and waits
// for their goroutines.
func TestStreamShutdown(t *testing.T) {
	ctx := testCtx(t)
	opened := make(chan struct{}, 1)
	closed := make(chan struct{}, 1)
	s := started(t, []httpd.Handler{httpd.Stream("/s", func(c *httpd.StreamConn, _ *httpd.Request) {
		_ = c.Send([]byte("open\n"))
		opened <- struct{}{}
	}, func(*httpd.StreamConn) { closed <- struct{}{} })})
	got := make(chan string, 1)
	go func() {
		r, err := ncurl.Get(ctx, s.URL()+"/s")
		if err != nil {
			got <- err.Error()
			return
		}
		got <- r.Text
	}()
	recvOn(t, opened, "stream")
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	recvOn(t, closed, "on-close")
	if text := recvOn(t, got, "client"); text != "open\n" {
		t.Fatalf("client read %q", text)
	}
}
