// Package metrics exports nanoact's counters to Prometheus
// (github.com/prometheus/client_golang): one collector per kind of thing
// to watch, each a prometheus.Collector to register on any registry, and
// Handler to serve the registry on /metrics.
//
//   - SocketCollector: the NNG statistics of sockets by name (nanoact_socket_*),
//     the dropped messages by cause (nanoact_socket_drops_total{cause}), pipes.
//   - RPCCollector: an rpc.Server's requests, handler errors, worker
//     crashes and restarts, and a handler latency histogram.
//   - RunnerCollector: a runner.Dispatcher's queue, tasks by outcome,
//     re-queues, daemons (each with its state and counts) and a task
//     latency histogram (submit to result).
//
// # Cost
//
// Nothing is counted for the collectors: a scrape reads the counters the
// sockets, servers and dispatchers keep anyway (Socket.Stats,
// Server.Requests, Dispatcher.Status). Only the latency histograms need
// work on the hot path, and they start it when the collector is first
// registered (prometheus calls Describe): until then a request or a task
// pays one atomic load, as it does with no collector at all. Close stops
// the histogram's hook. A scrape of a dispatcher asks its actor for a
// Status (a few µs plus a pass over the daemons).
//
// # Labels
//
// Each collector is given a name, its label value ("socket", "server" or
// "runner"), so that several of a kind share one registry; their names
// must differ within a registry.
package metrics
