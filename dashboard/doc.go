// Package dashboard serves a live web page of a runner.Dispatcher: its
// daemons with their state and counts, the queue, and throughput and
// latency over the last minutes, updated over Server-Sent Events.
//
// A Dashboard is an http.Handler: mount it on any server (net/http's,
// the httpd package's) under any path. It answers
//
//	GET <mount>/               the page: one self-contained HTML file (no
//	                           external assets, no build step; works offline)
//	GET <mount>/events         the SSE stream: an event "snapshot" whose data
//	                           is a Snapshot in JSON every WithInterval, the
//	                           first one with the History
//	GET <mount>/snapshot.json  the current Snapshot, History included
//
// Programs without an HTTP server of their own call Serve (a URL) or
// Listen (a host:port): one call that serves the dashboard and the
// dispatcher's Prometheus metrics (package metrics) at /metrics on one
// port, through an httpd.Server to which more handlers can be added. A
// Dashboard mounted on a server of the program's instead must be Closed
// before that server's Shutdown, which would otherwise wait for its
// streams.
//
// # Cost
//
// One goroutine, owned by the Dashboard, samples the dispatcher's Status
// every interval (a few µs on its actor plus a pass over the daemons) and
// encodes the snapshot once for every client. Each client of /events is
// one handler goroutine of the server that waits for the next snapshot
// and writes it: a slow client misses snapshots, it never delays others
// (each write is bounded by a 10 s deadline, then the stream ends). Task
// latencies come from runner.Dispatcher.WatchTasks (two clock reads and
// a short locked append per task).
package dashboard
