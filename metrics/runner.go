package metrics

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanoact/nanoact/runner"
)

// RunnerCollector exports a runner.Dispatcher's status, labelled
// runner="name":
//
//	nanoact_runner_connections, _connecting             daemons joined; connected without hello
//	nanoact_runner_tasks_queued, _tasks_executing       gauges
//	nanoact_runner_tasks_submitted_total, _completed_total, _failed_total,
//	  _canceled_total, _requeued_total                  counters
//	nanoact_runner_daemons_lost_total                   daemons lost mid-task
//	nanoact_runner_daemons_replaced_total               connections taken over by a newer one of the same daemon id
//	nanoact_runner_connections_refused_total, _silent_total, _oversize_total
//	nanoact_runner_daemon_online{daemon}                1 joined, 0 left (the last 64)
//	nanoact_runner_daemon_max, _daemon_executing        per daemon
//	nanoact_runner_daemon_completed_total, _failed_total  per daemon
//	nanoact_runner_task_duration_seconds{outcome="ok"|"failed"}  submit to result
//
// A scrape asks the dispatcher for its Status (bounded by WithTimeout;
// a dispatcher that does not answer gives an invalid metric, the
// scrape's error). The histogram observes tasks submitted from the first
// Describe on (prometheus calls it when the collector is registered)
// until Close (runner.Dispatcher.WatchTasks); before that the dispatcher
// pays nothing for it.
//
// A RunnerCollector is made by NewRunnerCollector, is safe for concurrent
// use, owns no goroutine, and should be Closed once unregistered.
type RunnerCollector struct {
	name string
	d    *runner.Dispatcher
	cfg  config
	hist *prometheus.HistogramVec

	gauges   []statDesc
	counters []statDesc
	daemon   struct{ online, max, executing, completed, failed *prometheus.Desc }

	mu     sync.Mutex
	stop   func()
	closed bool
}

// statDesc is one metric read from a Status.
type statDesc struct {
	d   *prometheus.Desc
	get func(*runner.Status) float64
}

// NewRunnerCollector returns a collector of d under name. Options:
// WithBuckets, WithTimeout. It does not touch d until registered.
func NewRunnerCollector(name string, d *runner.Dispatcher, opts ...Option) *RunnerCollector {
	c := &RunnerCollector{name: name, d: d, cfg: newConfig(opts)}
	c.hist = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "runner",
		Name: "task_duration_seconds", Help: "Time from a task's submission to its result from a daemon, queueing included.",
		ConstLabels: prometheus.Labels{"runner": name}, Buckets: c.cfg.buckets}, []string{"outcome"})
	g := func(n, help string, get func(*runner.Status) float64) statDesc {
		return statDesc{desc("runner", n, help, "runner"), get}
	}
	c.gauges = []statDesc{
		g("connections", "Daemons joined and connected.", func(s *runner.Status) float64 { return float64(s.Connections) }),
		g("connecting", "Connections that have not said hello yet.", func(s *runner.Status) float64 { return float64(s.Connecting) }),
		g("tasks_queued", "Tasks waiting for a daemon.", func(s *runner.Status) float64 { return float64(s.Queued) }),
		g("tasks_executing", "Tasks running on a daemon.", func(s *runner.Status) float64 { return float64(s.Executing) }),
	}
	c.counters = []statDesc{
		g("tasks_submitted_total", "Tasks submitted.", func(s *runner.Status) float64 { return float64(s.Submitted) }),
		g("tasks_completed_total", "Tasks that returned a value.", func(s *runner.Status) float64 { return float64(s.Completed) }),
		g("tasks_failed_total", "Tasks that returned an error, panicked or lost their daemon.", func(s *runner.Status) float64 { return float64(s.Failed) }),
		g("tasks_canceled_total", "Tasks stopped, timed out or ended by their context.", func(s *runner.Status) float64 { return float64(s.Canceled) }),
		g("tasks_requeued_total", "Task attempts re-queued after their daemon was lost.", func(s *runner.Status) float64 { return float64(s.Requeued) }),
		g("daemons_lost_total", "Daemons that disconnected mid-task.", func(s *runner.Status) float64 { return float64(s.Lost) }),
		g("daemons_replaced_total", "Daemon connections closed because a newer one said hello with the same daemon id.", func(s *runner.Status) float64 { return float64(s.Replaced) }),
		g("connections_refused_total", "Connections refused (bad hello or token).", func(s *runner.Status) float64 { return float64(s.Refused) }),
		g("connections_silent_total", "Connections closed for saying no hello in time.", func(s *runner.Status) float64 { return float64(s.Silent) }),
		g("connections_oversize_total", "Connections closed for a message over the limit.", func(s *runner.Status) float64 { return float64(s.Oversize) }),
	}
	c.daemon.online = desc("runner", "daemon_online", "1 while the daemon is joined, 0 once it left (the last 64 kept).", "runner", "daemon")
	c.daemon.max = desc("runner", "daemon_max", "Tasks the daemon runs at once.", "runner", "daemon")
	c.daemon.executing = desc("runner", "daemon_executing", "Tasks running on the daemon.", "runner", "daemon")
	c.daemon.completed = desc("runner", "daemon_completed_total", "Tasks the daemon finished with a value.", "runner", "daemon")
	c.daemon.failed = desc("runner", "daemon_failed_total", "Tasks the daemon finished with an error.", "runner", "daemon")
	return c
}

// Describe sends the metrics' descriptions (prometheus.Collector) and
// starts the latency histogram.
func (c *RunnerCollector) Describe(ch chan<- *prometheus.Desc) {
	c.mu.Lock()
	if c.stop == nil && !c.closed {
		c.stop = c.d.WatchTasks(func(td runner.TaskDone) {
			o := "ok"
			if !td.OK {
				o = "failed"
			}
			c.hist.WithLabelValues(o).Observe(td.Latency.Seconds())
		})
	}
	c.mu.Unlock()
	for _, s := range c.gauges {
		ch <- s.d
	}
	for _, s := range c.counters {
		ch <- s.d
	}
	ch <- c.daemon.online
	ch <- c.daemon.max
	ch <- c.daemon.executing
	ch <- c.daemon.completed
	ch <- c.daemon.failed
	c.hist.Describe(ch)
}

// Collect asks the dispatcher for its Status and sends it, with the
// histogram (prometheus.Collector). It blocks up to WithTimeout.
func (c *RunnerCollector) Collect(ch chan<- prometheus.Metric) {
	c.hist.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()
	st, err := c.d.Status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.gauges[0].d, err)
		return
	}
	for _, s := range c.gauges {
		ch <- prometheus.MustNewConstMetric(s.d, prometheus.GaugeValue, s.get(&st), c.name)
	}
	for _, s := range c.counters {
		ch <- prometheus.MustNewConstMetric(s.d, prometheus.CounterValue, s.get(&st), c.name)
	}
	seen := make(map[string]bool, len(st.Daemons))
	for _, dm := range st.Daemons {
		if seen[dm.ID] { // a departed daemon whose id came back: the live one wins
			continue
		}
		seen[dm.ID] = true
		online := 0.0
		if dm.Online {
			online = 1
		}
		ch <- prometheus.MustNewConstMetric(c.daemon.online, prometheus.GaugeValue, online, c.name, dm.ID)
		ch <- prometheus.MustNewConstMetric(c.daemon.max, prometheus.GaugeValue, float64(dm.Max), c.name, dm.ID)
		ch <- prometheus.MustNewConstMetric(c.daemon.executing, prometheus.GaugeValue, float64(dm.Executing), c.name, dm.ID)
		ch <- prometheus.MustNewConstMetric(c.daemon.completed, prometheus.CounterValue, float64(dm.Completed), c.name, dm.ID)
		ch <- prometheus.MustNewConstMetric(c.daemon.failed, prometheus.CounterValue, float64(dm.Failed), c.name, dm.ID)
	}
}

// Close stops the latency histogram's hook, so that the dispatcher pays
// nothing for it again; the collector still reports what it has. It is
// idempotent and does not block on the dispatcher.
func (c *RunnerCollector) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.stop != nil {
		c.stop()
	}
}
