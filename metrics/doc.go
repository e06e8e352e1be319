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
// Measured (BenchmarkRPCRoundTrip, BenchmarkTaskRoundTrip: no collector,
// one made but not registered, one registered; 2 shared cores, medians
// of 5): an inproc rpc round trip 7.9, 5.4 and 7.0 µs and a task round
// trip on one in-process daemon 12.2, 12.7 and 11.4 µs, all with the
// same allocations (5 and 19): the differences are the machine's noise.
// Against the code before the hooks (runner BenchmarkRoundTrip, rpc
// BenchmarkRPC, medians of 8) the same: 17.9 µs and 9.8 µs before,
// 17.9 µs and 8.3 µs after, and a queued task holds the same memory
// (BenchmarkQueuedTaskHeap).
//
// # Labels
//
// Each collector is given a name, its label value ("socket", "server" or
// "runner"), so that several of a kind share one registry; their names
// must differ within a registry.
package metrics
