package metrics

import (
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanoact/nanoact/sockets"
)

// SocketCollector exports the statistics of sockets (Socket.Stats), read
// at each scrape, labelled socket="name" as given to Add:
//
//	nanoact_socket_pipes, _dialers, _listeners          gauges
//	nanoact_socket_tx_msgs_total, _rx_msgs_total,
//	  _tx_bytes_total, _rx_bytes_total                  counters
//	nanoact_socket_reject_total, _oversize_total,
//	  _req_resent_total                                 counters
//	nanoact_socket_drops_total{cause="pub_full", ...}   counter per drop_* statistic
//	nanoact_socket_stat{stat="name"}                    any statistic not above
//
// A closed socket is left out of scrapes until it is Removed. The
// collector costs the sockets nothing: a scrape reads their atomic
// counters (Socket.Stats: one map per socket and scrape).
//
// A SocketCollector is made by NewSocketCollector and is safe for
// concurrent use; it owns no goroutine.
type SocketCollector struct {
	mu    sync.Mutex
	socks []namedSocket

	gauges   map[string]*prometheus.Desc
	counters map[string]*prometheus.Desc
	drops    *prometheus.Desc
	other    *prometheus.Desc
}

type namedSocket struct {
	name string
	s    *sockets.Socket
}

// NewSocketCollector returns a collector with no sockets; Add them.
func NewSocketCollector() *SocketCollector {
	c := &SocketCollector{gauges: map[string]*prometheus.Desc{}, counters: map[string]*prometheus.Desc{}}
	for n, help := range map[string]string{
		"pipes":     "Connections (pipes) of the socket.",
		"dialers":   "Dialers of the socket.",
		"listeners": "Listeners of the socket.",
	} {
		c.gauges[n] = desc("socket", n, help, "socket")
	}
	for n, help := range map[string]string{
		"tx_msgs":    "Messages the socket's connections wrote.",
		"rx_msgs":    "Messages the socket's connections read.",
		"tx_bytes":   "Bytes the socket's connections wrote, protocol headers included.",
		"rx_bytes":   "Bytes the socket's connections read, protocol headers included.",
		"reject":     "Connections the socket rejected.",
		"oversize":   "Connections closed for a message over the size limit.",
		"req_resent": "Requests sent again (req: resend timer or lost connection).",
	} {
		c.counters[n] = desc("socket", n+"_total", help, "socket")
	}
	c.drops = desc("socket", "drops_total", "Messages dropped, by cause (NNG's drop_* statistics).", "socket", "cause")
	c.other = desc("socket", "stat", "Any other statistic of the socket, by NNG name.", "socket", "stat")
	return c
}

// Add exports s under name (its socket label). Adding a socket twice
// replaces its name. It does not block.
func (c *SocketCollector) Add(name string, s *sockets.Socket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.socks {
		if c.socks[i].s == s {
			c.socks[i].name = name
			return
		}
	}
	c.socks = append(c.socks, namedSocket{name, s})
}

// Remove stops exporting s (no effect if it was not added).
func (c *SocketCollector) Remove(s *sockets.Socket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.socks = slices.DeleteFunc(c.socks, func(n namedSocket) bool { return n.s == s })
}

// Describe sends the metrics' descriptions (prometheus.Collector).
func (c *SocketCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.gauges {
		ch <- d
	}
	for _, d := range c.counters {
		ch <- d
	}
	ch <- c.drops
	ch <- c.other
}

// Collect reads every added socket's statistics (prometheus.Collector).
func (c *SocketCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	socks := slices.Clone(c.socks)
	c.mu.Unlock()
	for _, ns := range socks {
		select {
		case <-ns.s.Done():
			continue
		default:
		}
		for n, v := range ns.s.Stats() {
			f := float64(v)
			switch {
			case n == "id":
			case c.gauges[n] != nil:
				ch <- prometheus.MustNewConstMetric(c.gauges[n], prometheus.GaugeValue, f, ns.name)
			case c.counters[n] != nil:
				ch <- prometheus.MustNewConstMetric(c.counters[n], prometheus.CounterValue, f, ns.name)
			case strings.HasPrefix(n, "drop_"):
				ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, f, ns.name, strings.TrimPrefix(n, "drop_"))
			default:
				ch <- prometheus.MustNewConstMetric(c.other, prometheus.UntypedValue, f, ns.name, n)
			}
		}
	}
}
