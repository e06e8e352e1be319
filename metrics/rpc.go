package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanoact/nanoact/rpc"
)

// RPCCollector exports an rpc.Server's counters, labelled server="name":
//
//	nanoact_rpc_requests_total           requests the workers took
//	nanoact_rpc_errors_total             handlers that returned an error or panicked
//	nanoact_rpc_failures_total           worker crashes (handler panics)
//	nanoact_rpc_restarts_total           workers restarted after a crash
//	nanoact_rpc_request_duration_seconds handler latency histogram
//
// The counters are read at each scrape (Server.Requests and the others:
// atomic loads). The histogram observes requests from the first
// Describe on (prometheus calls it when the collector is registered)
// until Close; before that the server pays nothing for it.
//
// An RPCCollector is made by NewRPCCollector, is safe for concurrent use,
// owns no goroutine, and should be Closed once unregistered.
type RPCCollector struct {
	name string
	srv  *rpc.Server
	hist prometheus.Histogram

	requests, errors, failures, restarts *prometheus.Desc

	mu     sync.Mutex
	stop   func() // the histogram's WatchRequests; nil until Describe
	closed bool
}

// NewRPCCollector returns a collector of srv under name. Options:
// WithBuckets. It does not touch srv until registered.
func NewRPCCollector(name string, srv *rpc.Server, opts ...Option) *RPCCollector {
	cfg := newConfig(opts)
	return &RPCCollector{name: name, srv: srv,
		hist: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "rpc",
			Name: "request_duration_seconds", Help: "Time the handler took, from the decoded request to the encoded reply.",
			ConstLabels: prometheus.Labels{"server": name}, Buckets: cfg.buckets}),
		requests: desc("rpc", "requests_total", "Requests the server's workers took.", "server"),
		errors:   desc("rpc", "errors_total", "Requests whose handler returned an error or panicked.", "server"),
		failures: desc("rpc", "failures_total", "Worker crashes (a handler panicked).", "server"),
		restarts: desc("rpc", "restarts_total", "Workers restarted after a crash.", "server"),
	}
}

// Describe sends the metrics' descriptions (prometheus.Collector) and
// starts the latency histogram.
func (c *RPCCollector) Describe(ch chan<- *prometheus.Desc) {
	c.mu.Lock()
	if c.stop == nil && !c.closed {
		c.stop = c.srv.WatchRequests(func(r rpc.RequestDone) { c.hist.Observe(r.Latency.Seconds()) })
	}
	c.mu.Unlock()
	ch <- c.requests
	ch <- c.errors
	ch <- c.failures
	ch <- c.restarts
	c.hist.Describe(ch)
}

// Collect reads the server's counters and the histogram
// (prometheus.Collector).
func (c *RPCCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(c.srv.Requests()), c.name)
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(c.srv.Errors()), c.name)
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(c.srv.Failures()), c.name)
	ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(c.srv.Restarts()), c.name)
	c.hist.Collect(ch)
}

// Close stops the latency histogram's hook, so that the server pays
// nothing for it again; the collector still reports what it has. It is
// idempotent and does not block on the server.
func (c *RPCCollector) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.stop != nil {
		c.stop()
	}
}
