package httpd_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/httpd"
)

// A stream client that never reads does not hold up Broadcast for the
// others: after each Broadcast the reading client receives that event,
// in order, while the silent one's queue fills; then the silent one is
// dropped (closed, counted) and the reader goes on receiving. The write
// timeout is a minute, so a Broadcast that waited on the silent client
// would keep the reader from its event past the test's bound.
func TestBroadcastSlowClient(t *testing.T) {
	ctx := testCtx(t)
	opened := make(chan *httpd.StreamConn, 2)
	closed := make(chan uint64, 2)
	h := httpd.Stream("/events", func(c *httpd.StreamConn, _ *httpd.Request) {
		_ = c.SetHeader("Content-Type", "text/event-stream")
		if err := c.Send(httpd.FormatSSE(httpd.Event{Data: "hello"})); err != nil {
			t.Errorf("Send: %v", err)
		}
		opened <- c
	}, func(c *httpd.StreamConn) { closed <- c.ID() }, httpd.SendQueue(4), httpd.WriteTimeout(time.Minute))
	s := serve(t, []httpd.Handler{h})

	// The silent client: a small receive buffer, and no read ever.
	addr := strings.TrimPrefix(s.URL(), "http://")
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := raw.Write([]byte("GET /events HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	silent := recvOn(t, opened, "the silent client's stream")

	// The reader.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", s.URL()+"/events", nil)
	resp, err := streamClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reader := recvOn(t, opened, "the reader's stream")
	events := make(chan string, 16)
	go func() {
		defer close(events)
		br := bufio.NewReaderSize(resp.Body, 1<<17)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				events <- strings.TrimSuffix(d, "\n")
			}
		}
	}()
	if ev := recvOn(t, events, "hello"); ev != "hello" {
		t.Fatalf("first event %q", ev)
	}

	pad := strings.Repeat("x", 64<<10)
	after := -1 // broadcasts since the drop
	for i := 0; after < 3; i++ {
		if i == 4000 {
			t.Fatalf("the silent client was never dropped (%d broadcasts of 64 KiB)", i)
		}
		if n := h.Broadcast(httpd.FormatSSE(httpd.Event{Data: strconv.Itoa(i) + " " + pad})); n < 1 {
			t.Fatalf("broadcast %d queued for %d streams", i, n)
		}
		ev := recvOn(t, events, "broadcast "+strconv.Itoa(i))
		if num, _, _ := strings.Cut(ev, " "); num != strconv.Itoa(i) {
			t.Fatalf("reader got event %q, want %d", num, i)
		}
		if after >= 0 {
			after++
		} else if h.Dropped() > 0 {
			after = 0
		}
	}
	if id := recvOn(t, closed, "the silent stream's end"); id != silent.ID() {
		t.Fatalf("stream %d ended, want the silent one %d (the reader is %d)", id, silent.ID(), reader.ID())
	}
	if n, d := h.Conns(), h.Dropped(); n != 1 || d != 1 {
		t.Fatalf("%d streams open, %d dropped; want the reader's only, 1", n, d)
	}
	// The reader's stream still serves, a Send after a Broadcast in the
	// order of the calls.
	h.Broadcast(httpd.FormatSSE(httpd.Event{Data: "last broadcast"}))
	if err := reader.Send(httpd.FormatSSE(httpd.Event{Data: "sent"})); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"last broadcast", "sent"} {
		if ev := recvOn(t, events, want); ev != want {
			t.Fatalf("got %q, want %q", ev, want)
		}
	}
}
