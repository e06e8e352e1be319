package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/metrics"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/sockets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var seq atomic.Int64

func stat(t *testing.T, s *sockets.Socket, name string) int64 {
	t.Helper()
	v, err := s.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// value returns the one sample of family name whose labels include want.
func value(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.Metric {
			have := map[string]string{}
			for _, lp := range m.Label {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue next
				}
			}
			return m
		}
	}
	t.Fatalf("no %s%v gathered", name, want)
	return nil
}

func num(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return m.Histogram.GetSampleSum()
}

// Messages, pipes and drops by cause, as the sockets count them.
func TestSocketCollector(t *testing.T) {
	ctx := testkit.CtxT(t)
	url := fmt.Sprintf("inproc://metrics-sock-%d", seq.Add(1))
	pull, err := sockets.New(sockets.Pull, sockets.Listen(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pull.Close() })
	if err := sockets.Set(pull, sockets.RecvBuffer, 16); err != nil {
		t.Fatal(err)
	}
	push, err := sockets.New(sockets.Push, sockets.Dial(url, sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = push.Close() })
	for i := range 10 {
		if err := push.Send(ctx, int32(i), sockets.Raw); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitStat(t, pull, "rx_msgs", 10)
	// Shrinking the queue below what waits drops the 6 oldest.
	if err := sockets.Set(pull, sockets.RecvBuffer, 4); err != nil {
		t.Fatal(err)
	}

	c := metrics.NewSocketCollector()
	c.Add("pull", pull)
	c.Add("push", push)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	for _, tc := range []struct {
		metric string
		labels map[string]string
		want   int64
	}{
		{"nanoact_socket_pipes", map[string]string{"socket": "pull"}, stat(t, pull, "pipes")},
		{"nanoact_socket_rx_msgs_total", map[string]string{"socket": "pull"}, 10},
		{"nanoact_socket_tx_msgs_total", map[string]string{"socket": "push"}, 10},
		{"nanoact_socket_rx_bytes_total", map[string]string{"socket": "pull"}, stat(t, pull, "rx_bytes")},
		{"nanoact_socket_drops_total", map[string]string{"socket": "pull", "cause": "recv_full"}, stat(t, pull, "drop_recv_full")},
		{"nanoact_socket_drops_total", map[string]string{"socket": "push", "cause": "pub_full"}, 0},
		{"nanoact_socket_req_resent_total", map[string]string{"socket": "pull"}, 0},
		{"nanoact_socket_listeners", map[string]string{"socket": "pull"}, 1},
		{"nanoact_socket_dialers", map[string]string{"socket": "push"}, 1},
	} {
		if got := num(value(t, reg, tc.metric, tc.labels)); got != float64(tc.want) {
			t.Errorf("%s%v = %v, want %d", tc.metric, tc.labels, got, tc.want)
		}
	}
	if got := num(value(t, reg, "nanoact_socket_drops_total", map[string]string{"socket": "pull", "cause": "recv_full"})); got != 6 {
		t.Errorf("recv_full drops %v, want 6", got)
	}
	if p := num(value(t, reg, "nanoact_socket_pipes", map[string]string{"socket": "push"})); p != 1 {
		t.Errorf("push pipes %v, want 1", p)
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}

	// A closed socket drops out of scrapes; Remove takes one out.
	n := testutil.CollectAndCount(c)
	_ = push.Close()
	after := testutil.CollectAndCount(c)
	c.Remove(pull)
	if after >= n || after != n/2 || testutil.CollectAndCount(c) != 0 {
		t.Fatalf("metrics: both %d, push closed %d, none left %d", n, after, testutil.CollectAndCount(c))
	}
}

// Requests, errors, crashes, restarts and the latency histogram of an
// rpc.Server; the histogram counts only from registration to Close.
func TestRPCCollector(t *testing.T) {
	ctx := testkit.CtxT(t)
	srv, err := rpc.NewServer(func(_ context.Context, s string) (string, error) {
		switch s {
		case "boom":
			panic("handler exploded")
		case "bad":
			return "", errors.New("bad")
		}
		return s, nil
	}, rpc.WithListen(fmt.Sprintf("inproc://metrics-rpc-%d", seq.Add(1))), rpc.WithWorkers(1),
		rpc.WithRestartBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	req, err := sockets.New(sockets.Req, sockets.Dial(srv.URL(), sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = req.Close() })
	call := func(s string) {
		t.Helper()
		if err := req.Send(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := req.Recv(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c := metrics.NewRPCCollector("echo", srv)
	t.Cleanup(c.Close)
	call("before") // not registered yet: no observation
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	for _, s := range []string{"a", "bad", "boom", "b"} {
		call(s)
	}
	c.Close()
	call("after") // closed: no observation
	want := `
# HELP nanoact_rpc_errors_total Requests whose handler returned an error or panicked.
# TYPE nanoact_rpc_errors_total counter
nanoact_rpc_errors_total{server="echo"} 2
# HELP nanoact_rpc_failures_total Worker crashes (a handler panicked).
# TYPE nanoact_rpc_failures_total counter
nanoact_rpc_failures_total{server="echo"} 1
# HELP nanoact_rpc_requests_total Requests the server's workers took.
# TYPE nanoact_rpc_requests_total counter
nanoact_rpc_requests_total{server="echo"} 6
# HELP nanoact_rpc_restarts_total Workers restarted after a crash.
# TYPE nanoact_rpc_restarts_total counter
nanoact_rpc_restarts_total{server="echo"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "nanoact_rpc_requests_total",
		"nanoact_rpc_errors_total", "nanoact_rpc_failures_total", "nanoact_rpc_restarts_total"); err != nil {
		t.Fatal(err)
	}
	h := value(t, reg, "nanoact_rpc_request_duration_seconds", map[string]string{"server": "echo"}).Histogram
	if h.GetSampleCount() != 4 || h.GetSampleSum() <= 0 {
		t.Fatalf("histogram count %d sum %v, want 4 requests between register and Close", h.GetSampleCount(), h.GetSampleSum())
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}
}

// A dispatcher's counters, daemons and task latency match its Status, and
// /metrics serves them.
func TestRunnerCollectorAndHandler(t *testing.T) {
	ctx := testkit.CtxT(t)
	reg := runner.NewRegistry()
	sq := runner.Register(reg, "sq", func(_ context.Context, n int) (int, error) {
		if n < 0 {
			return 0, errors.New("negative")
		}
		return n * n, nil
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.StartDaemons(ctx, 2); err != nil {
		t.Fatal(err)
	}
	c := metrics.NewRunnerCollector("main", d)
	t.Cleanup(c.Close)
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(c)
	for i := -2; i < 10; i++ {
		_, _ = sq.Submit(ctx, d, i).Value(ctx)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Completed != 10 || st.Failed != 2 {
		t.Fatalf("status %+v", st)
	}
	for _, tc := range []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"nanoact_runner_connections", nil, float64(st.Connections)},
		{"nanoact_runner_tasks_submitted_total", nil, float64(st.Submitted)},
		{"nanoact_runner_tasks_completed_total", nil, float64(st.Completed)},
		{"nanoact_runner_tasks_failed_total", nil, float64(st.Failed)},
		{"nanoact_runner_tasks_queued", nil, 0},
		{"nanoact_runner_tasks_requeued_total", nil, 0},
		{"nanoact_runner_daemons_replaced_total", nil, float64(st.Replaced)},
		{"nanoact_runner_daemon_online", map[string]string{"daemon": st.Daemons[0].ID}, 1},
		{"nanoact_runner_daemon_completed_total", map[string]string{"daemon": st.Daemons[1].ID}, float64(st.Daemons[1].Completed)},
		{"nanoact_runner_daemon_max", map[string]string{"daemon": st.Daemons[1].ID}, float64(st.Daemons[1].Max)},
	} {
		if tc.labels == nil {
			tc.labels = map[string]string{}
		}
		tc.labels["runner"] = "main"
		if got := num(value(t, pr, tc.metric, tc.labels)); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.metric, tc.labels, got, tc.want)
		}
	}
	ok := value(t, pr, "nanoact_runner_task_duration_seconds", map[string]string{"outcome": "ok"}).Histogram
	bad := value(t, pr, "nanoact_runner_task_duration_seconds", map[string]string{"outcome": "failed"}).Histogram
	if ok.GetSampleCount() != 10 || bad.GetSampleCount() != 2 {
		t.Fatalf("histogram counts ok %d failed %d, want 10 2", ok.GetSampleCount(), bad.GetSampleCount())
	}
	if probs, err := testutil.GatherAndLint(pr); err != nil || len(probs) > 0 {
		t.Fatalf("lint: %v %v", probs, err)
	}

	srv := httptest.NewServer(metrics.Handler(pr))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/metrics", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	line := fmt.Sprintf("nanoact_runner_tasks_completed_total{runner=\"main\"} %d\n", st.Completed)
	if !strings.Contains(string(body), line) {
		t.Fatalf("/metrics lacks %q:\n%s", line, body)
	}
	srv.CloseClientConnections()
}

// A closed dispatcher is scraped from its final status.
func TestRunnerCollectorClosed(t *testing.T) {
	d, err := runner.NewDispatcher("", runner.WithRegistry(runner.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	c := metrics.NewRunnerCollector("gone", d, metrics.WithTimeout(time.Second), metrics.WithBuckets([]float64{1, 2}))
	t.Cleanup(c.Close)
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(c)
	if got := num(value(t, pr, "nanoact_runner_connections", map[string]string{"runner": "gone"})); got != 0 {
		t.Fatalf("connections %v after Close", got)
	}
}
