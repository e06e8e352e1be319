package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name.
const namespace = "nanoact"

// defaultBuckets are the latency histograms' upper bounds in seconds,
// 50 µs to 10 s: in-process requests take microseconds, tasks on remote
// daemons seconds. Never modified (WithBuckets copies its own).
var defaultBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
	100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}

// Option configures NewRPCCollector and NewRunnerCollector.
type Option interface{ apply(*config) }

type config struct {
	buckets []float64
	timeout time.Duration
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithBuckets sets the latency histogram's upper bounds, in seconds,
// increasing (default 50 µs, 100 µs, 250 µs, 500 µs, 1 ms, 2.5 ms, 5 ms,
// 10 ms, 25 ms, 50 ms, 100 ms, 250 ms, 500 ms, 1 s, 2.5 s, 5 s, 10 s). An
// empty list keeps the default.
func WithBuckets(b []float64) Option {
	return optionFunc(func(c *config) {
		if len(b) > 0 {
			c.buckets = append([]float64(nil), b...)
		}
	})
}

// WithTimeout bounds how long a scrape waits for a dispatcher's Status
// (default 1 s; zero or negative keeps the default). A scrape that times
// out reports an invalid metric (prometheus.NewInvalidMetric) and the
// rest.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	})
}

func newConfig(opts []Option) config {
	c := config{buckets: defaultBuckets, timeout: time.Second}
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}

// Handler returns the /metrics handler for g (a *prometheus.Registry, or
// prometheus.Gatherers), in the text or protobuf exposition format the
// scraper asks for; errors of a collector are served as HTTP 500 with
// their text (promhttp.HTTPErrorOnError). Each request gathers once; the
// handler is safe for concurrent use and owns no goroutine. Mount it on
// any server (the httpd package's, net/http's).
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

// desc builds a metric description with the collector's label and more.
func desc(sub, name, help, label string, more ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, sub, name), help, append([]string{label}, more...), nil)
}
