package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/dashboard"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/runner"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a dispatcher with daemons, a task that waits for its
// release channel, and a dashboard mounted at /dash/ on a test server.
type fixture struct {
	d       *runner.Dispatcher
	db      *dashboard.Dashboard
	srv     *httptest.Server
	sq      runner.Task[int, int]
	release chan struct{}
}

func newFixture(t *testing.T, daemons int) *fixture {
	t.Helper()
	f := &fixture{release: make(chan struct{})}
	reg := runner.NewRegistry()
	f.sq = runner.Register(reg, "sq", func(ctx context.Context, n int) (int, error) {
		if n < 0 { // a task that waits to be released
			select {
			case <-f.release:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			n = -n
		}
		return n * n, nil
	})
	var err error
	f.d, err = runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.d.Close() })
	if _, err := f.d.StartDaemons(testkit.CtxT(t), daemons); err != nil {
		t.Fatal(err)
	}
	f.db, err = dashboard.New(f.d, dashboard.WithInterval(20*time.Millisecond), dashboard.WithTitle("test <dispatcher>"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.db.Close() })
	mux := http.NewServeMux()
	mux.Handle("/dash/", f.db)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// run submits n tasks and waits for their results.
func (f *fixture) run(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for i := range n {
		if _, err := f.sq.Submit(ctx, f.d, i).Value(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// stream is one client of /events.
type stream struct {
	resp *http.Response
	r    *bufio.Reader
}

func openStream(t *testing.T, ctx context.Context, url string) *stream {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		_ = resp.Body.Close()
		t.Fatalf("events: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	return &stream{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads one event and decodes its snapshot.
func (s *stream) next() (dashboard.Snapshot, error) {
	var snap dashboard.Snapshot
	event, data := "", ""
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return snap, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if event != "snapshot" {
				return snap, errors.New("event " + event)
			}
			return snap, json.Unmarshal([]byte(data), &snap)
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// until reads snapshots until ok accepts one.
func (s *stream) until(t *testing.T, ok func(dashboard.Snapshot) bool) dashboard.Snapshot {
	t.Helper()
	for {
		snap, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if ok(snap) {
			return snap
		}
	}
}

// clients waits until the dashboard has n streams (Clients has no
// event: polled, bounded).
func clients(t *testing.T, db *dashboard.Dashboard, n int) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("%d streams", n), nil, func() bool { return db.Clients() == n })
}

// The stream's first snapshot has the history; later ones the latest
// point; counts follow Status as tasks finish, latency and throughput
// included.
func TestEventsFollowStatus(t *testing.T) {
	f := newFixture(t, 2)
	ctx := testkit.CtxT(t)
	s := openStream(t, ctx, f.srv.URL+"/dash/events")
	defer s.resp.Body.Close()
	first, err := s.next()
	if err != nil {
		t.Fatal(err)
	}
	// The default 5 minutes of history, capped at 3,600 intervals of 20 ms.
	if len(first.History) == 0 || first.Title != "test <dispatcher>" || first.Window != 3600*0.020 {
		t.Fatalf("first snapshot: history %d title %q window %v", len(first.History), first.Title, first.Window)
	}
	f.run(t, ctx, 25)
	st, err := f.d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := s.until(t, func(s dashboard.Snapshot) bool { return s.Completed == st.Completed })
	if snap.History != nil || snap.Connections != st.Connections || len(snap.Daemons) != 2 ||
		snap.Daemons[0].ID != st.Daemons[0].ID || snap.Daemons[0].Completed+snap.Daemons[1].Completed != 25 {
		t.Fatalf("snapshot %+v, status %+v", snap, st)
	}
	// The tasks' latencies and rate reach a point of the charts.
	hist := f.db.Snapshot().History
	tasks, thr, p95 := 0, 0.0, 0.0
	for _, p := range hist {
		tasks += p.Tasks
		thr = max(thr, p.Throughput)
		p95 = max(p95, p.P95)
	}
	if tasks != 25 || thr <= 0 || p95 <= 0 {
		t.Fatalf("history: %d tasks, throughput up to %v, p95 up to %v; want 25 and positive", tasks, thr, p95)
	}

	// A running task shows as executing on its daemon.
	a := f.sq.Submit(ctx, f.d, -3)
	s.until(t, func(s dashboard.Snapshot) bool {
		return s.Executing == 1 && (s.Daemons[0].Executing == 1 || s.Daemons[1].Executing == 1)
	})
	close(f.release)
	if v, err := a.Value(ctx); err != nil || v != 9 {
		t.Fatalf("released task: %v %v", v, err)
	}
	s.until(t, func(s dashboard.Snapshot) bool { return s.Completed == 26 && s.Executing == 0 })
}

// The page, the JSON snapshot, and the errors.
func TestPageAndErrors(t *testing.T) {
	f := newFixture(t, 1)
	ctx := testkit.CtxT(t)
	get := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, f.srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	resp, body := get(http.MethodGet, "/dash/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `id="completed"`) || !strings.Contains(body, `new EventSource(base + "events")`) {
		t.Fatalf("page: %s %q %d bytes", resp.Status, resp.Header.Get("Content-Type"), len(body))
	}
	for _, ext := range []string{"http://", "https://", "//"} { // no external assets: works offline
		if strings.Contains(body, "src=\""+ext) || strings.Contains(body, "href=\""+ext) {
			t.Fatalf("page loads an external asset (%s)", ext)
		}
	}
	f.run(t, ctx, 3)
	resp, body = get(http.MethodGet, "/dash/snapshot.json")
	var snap dashboard.Snapshot
	if err := json.Unmarshal([]byte(body), &snap); err != nil || resp.StatusCode != 200 || len(snap.History) == 0 {
		t.Fatalf("snapshot.json: %s %v %q", resp.Status, err, body)
	}
	if resp, _ = get(http.MethodPost, "/dash/events"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %s", resp.Status)
	}
	// HEAD of the stream answers its headers and ends: no stream stays.
	if resp, _ = get(http.MethodHead, "/dash/events"); resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "text/event-stream" || f.db.Clients() != 0 {
		t.Fatalf("HEAD events: %s %q, %d streams", resp.Status, resp.Header.Get("Content-Type"), f.db.Clients())
	}
	if _, err := dashboard.New(nil); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf("New(nil): %v", err)
	}
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Close(); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if resp, _ = get(http.MethodGet, "/dash/events"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("events after Close: %s", resp.Status)
	}
}

// A client that goes away mid-stream leaves no stream behind, and the
// dashboard goes on serving the others.
func TestClientDisconnects(t *testing.T) {
	f := newFixture(t, 1)
	ctx := testkit.CtxT(t)
	cctx, cancel := context.WithCancel(ctx)
	gone := openStream(t, cctx, f.srv.URL+"/dash/events")
	if _, err := gone.next(); err != nil {
		t.Fatal(err)
	}
	stay := openStream(t, ctx, f.srv.URL+"/dash/events")
	defer stay.resp.Body.Close()
	clients(t, f.db, 2)
	cancel()
	_ = gone.resp.Body.Close()
	clients(t, f.db, 1)
	f.run(t, ctx, 2)
	stay.until(t, func(s dashboard.Snapshot) bool { return s.Completed == 2 })
}

// Many clients at once each get the snapshots; Close ends every stream
// and returns once they are gone.
func TestManyClients(t *testing.T) {
	f := newFixture(t, 1)
	ctx := testkit.CtxT(t)
	const n = 50
	streams := make([]*stream, n)
	for i := range streams {
		streams[i] = openStream(t, ctx, f.srv.URL+"/dash/events")
		defer streams[i].resp.Body.Close()
	}
	clients(t, f.db, n)
	f.run(t, ctx, 5)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, s := range streams {
		wg.Go(func() {
			for {
				snap, err := s.next()
				if err != nil {
					errs <- err
					return
				}
				if snap.Completed == 5 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}
	if c := f.db.Clients(); c != 0 {
		t.Fatalf("%d streams after Close", c)
	}
	for _, s := range streams { // each stream ends: EOF after what was sent
		for {
			if _, err := s.next(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("stream after Close: %v", err)
				}
				break
			}
		}
	}
}

// A client that never reads loses its stream once a write has waited for
// the deadline; the others go on.
func TestClientNeverReads(t *testing.T) {
	f := &fixture{release: make(chan struct{})}
	reg := runner.NewRegistry()
	var err error
	f.d, err = runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.d.Close() })
	// Large snapshots (a 64 KiB title) fill the connection's buffers fast.
	f.db, err = dashboard.New(f.d, dashboard.WithInterval(10*time.Millisecond), dashboard.WithTitle(strings.Repeat("x", 64<<10)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.db.Close() })
	// The silent client is dropped once a write has waited this long. The
	// reader must never wait as long between reads: it decodes 64 KiB of
	// JSON per event under -race, and a loaded machine stalled it past
	// 200 ms (its stream cut mid-event: unexpected EOF), so the limit is
	// well beyond a scheduling stall. The server's connections get small
	// send buffers, so that the silent client's fill within a few events
	// and it is dropped soon after the limit, well within the test's 10 s.
	dashboard.SetWriteTimeout(f.db, 2*time.Second)
	srv := httptest.NewUnstartedServer(f.db)
	srv.Listener = smallSendBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(conn, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	clients(t, f.db, 1)
	ctx := testkit.CtxT(t)
	other := openStream(t, ctx, srv.URL+"/events")
	defer other.resp.Body.Close()
	// The reader keeps reading; the silent one is dropped.
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := other.next(); err != nil {
				done <- err
				return
			}
			if f.db.Clients() == 1 {
				done <- nil
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("the silent client still has its stream: %d streams", f.db.Clients())
	}
}

// smallSendBuffers is a listener whose connections have small kernel send
// buffers, so that a client that does not read blocks the server's writes
// within a few KiB.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}
