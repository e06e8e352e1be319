package dashboard

import (
	"context"
	_ "embed"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/runner"
)

//go:embed page.html
var page []byte

// writeTimeout bounds each write to an /events client: one that does not
// read for this long loses its stream.
const writeTimeout = 10 * time.Second

// maxPoints bounds the chart points kept (the history's length in
// intervals), so that a stream's first event stays small.
const maxPoints = 3600

// maxSamples bounds the latencies kept per interval for the percentiles
// (a uniform reservoir sample beyond it).
const maxSamples = 4096

// Snapshot is what the page shows at one instant: the dispatcher's
// counters and daemons, and the chart points.
type Snapshot struct {
	// Time is when the dispatcher's Status was taken.
	Time time.Time `json:"time"`
	// Title is the page's title (WithTitle).
	Title string `json:"title"`
	// Window is how far back the charts go, in seconds (WithHistory).
	Window float64 `json:"window"`
	// URLs are the dispatcher's listeners.
	URLs []string `json:"urls"`
	// Connections is the number of daemons joined; Connecting, those
	// connected without a hello yet.
	Connections int `json:"connections"`
	Connecting  int `json:"connecting"`
	// Queued and Executing are the tasks waiting and running.
	Queued    int `json:"queued"`
	Executing int `json:"executing"`
	// The dispatcher's task counters (runner.Status).
	Submitted int64 `json:"submitted"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Canceled  int64 `json:"canceled"`
	Requeued  int64 `json:"requeued"`
	Lost      int64 `json:"lost"`
	// Daemons are the connected daemons in the order they joined, then
	// the last that left.
	Daemons []Daemon `json:"daemons"`
	// Point is the latest chart point.
	Point Point `json:"point"`
	// History holds the chart points of the last WithHistory, oldest
	// first, Point last; only in the first event of a stream and in
	// /snapshot.json.
	History []Point `json:"history,omitempty"`
}

// Daemon is one row of the daemons table (runner.DaemonStatus).
type Daemon struct {
	// ID is the daemon's id; Online is false once it has left.
	ID     string `json:"id"`
	Online bool   `json:"online"`
	// Max is how many tasks it runs at once, Executing how many it runs.
	Max       int `json:"max"`
	Executing int `json:"executing"`
	// Completed and Failed count the tasks it finished with a value and
	// with an error.
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	// Up is how long it has been joined (until it left), in seconds.
	Up float64 `json:"up"`
}

// Point is one interval of the charts.
type Point struct {
	// T is the end of the interval, in Unix milliseconds.
	T int64 `json:"t"`
	// Throughput is the tasks finished (completed or failed) per second
	// over the interval.
	Throughput float64 `json:"throughput"`
	// Queued and Executing are the tasks waiting and running at T.
	Queued    int `json:"queued"`
	Executing int `json:"executing"`
	// Tasks is the number of results that came in the interval, P50,
	// P95 and Max their latency in milliseconds (submit to result; zero
	// without results).
	Tasks int     `json:"tasks"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	Max   float64 `json:"max"`
}

// Option configures New.
type Option interface{ apply(*config) }

type config struct {
	interval, history time.Duration
	title             string
	metricsName       string         // Serve's
	httpOpts          []httpd.Option // Serve's
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithInterval sets how often the dashboard samples the dispatcher and
// sends a snapshot (default 1 s; at least 10 ms; zero or negative keeps
// the default).
func WithInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.interval = max(d, 10*time.Millisecond)
		}
	})
}

// WithHistory sets how far back the charts go (default 5 minutes; at
// least one interval and at most 3,600 intervals; zero or negative keeps
// the default).
func WithHistory(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.history = d
		}
	})
}

// WithTitle sets the page's title (default "nanoact dispatcher").
func WithTitle(s string) Option { return optionFunc(func(c *config) { c.title = s }) }

// Dashboard serves the live page of one dispatcher; see the package doc.
// It is made by New, is safe for concurrent use, and must be Closed
// (before the dispatcher, or after: a closed dispatcher shows its final
// status).
type Dashboard struct {
	d       *runner.Dispatcher
	cfg     config
	stop    func() // WatchTasks
	done    chan struct{}
	wg      sync.WaitGroup // the sampler and the /events streams
	rng     *rand.Rand     // the reservoir's, under lmu
	lmu     sync.Mutex     // lat
	lat     []time.Duration
	nlat    int // results this interval (len(lat) is capped)
	maxL    time.Duration
	mu      sync.Mutex
	snap    Snapshot
	full    []byte        // snap with History, JSON
	delta   []byte        // snap without History, JSON
	next    chan struct{} // closed and replaced at each snapshot
	hist    []Point
	prev    int64 // Completed+Failed at the last sample
	last    time.Time
	sampled bool
	shut    bool
	clients atomic.Int64  // open /events streams
	wlimit  time.Duration // writeTimeout; shorter in tests
}

// New starts a dashboard of d: it takes a first snapshot, then one every
// interval on a goroutine of its own, until Close. Errors: ErrInvalid for
// a nil dispatcher.
func New(d *runner.Dispatcher, opts ...Option) (*Dashboard, error) {
	if d == nil {
		return nil, &nanoact.Error{Code: nanoact.CodeInvalid, Op: "dashboard: new: nil dispatcher"}
	}
	cfg := config{interval: time.Second, history: 5 * time.Minute, title: "nanoact dispatcher", metricsName: "dispatcher"}
	for _, o := range opts {
		o.apply(&cfg)
	}
	cfg.history = min(max(cfg.history, cfg.interval), maxPoints*cfg.interval)
	db := &Dashboard{d: d, cfg: cfg, done: make(chan struct{}), next: make(chan struct{}),
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), last: time.Now(), wlimit: writeTimeout}
	db.stop = d.WatchTasks(db.observe)
	db.sample()
	db.wg.Go(db.run)
	return db, nil
}

// observe records one task's latency (runner.Dispatcher.WatchTasks).
func (db *Dashboard) observe(td runner.TaskDone) {
	db.lmu.Lock()
	defer db.lmu.Unlock()
	db.nlat++
	db.maxL = max(db.maxL, td.Latency)
	if len(db.lat) < maxSamples {
		db.lat = append(db.lat, td.Latency)
	} else if i := db.rng.IntN(db.nlat); i < maxSamples {
		db.lat[i] = td.Latency
	}
}

func (db *Dashboard) run() {
	t := time.NewTicker(db.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-db.done:
			return
		case <-t.C:
			db.sample()
		}
	}
}

// sample takes the dispatcher's status and publishes a snapshot.
func (db *Dashboard) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), db.cfg.interval+time.Second)
	st, err := db.d.Status(ctx)
	cancel()
	if err != nil {
		// The dispatcher did not answer in time: keep the last snapshot,
		// or publish an empty one so that streams have one to start with.
		// (Only sample writes full: reading it here needs no lock.)
		if db.full != nil {
			return
		}
		st = runner.Status{}
	}
	now := time.Now()
	db.lmu.Lock()
	lat, n, mx := db.lat, db.nlat, db.maxL
	db.lat, db.nlat, db.maxL = make([]time.Duration, 0, len(lat)), 0, 0
	db.lmu.Unlock()

	s := Snapshot{Time: now, Title: db.cfg.title, Window: db.cfg.history.Seconds(), URLs: st.URLs, Connections: st.Connections, Connecting: st.Connecting,
		Queued: st.Queued, Executing: st.Executing, Submitted: st.Submitted, Completed: st.Completed,
		Failed: st.Failed, Canceled: st.Canceled, Requeued: st.Requeued, Lost: st.Lost, Daemons: []Daemon{}}
	for _, dm := range st.Daemons {
		end := dm.Left
		if dm.Online || end.IsZero() {
			end = now
		}
		s.Daemons = append(s.Daemons, Daemon{ID: dm.ID, Online: dm.Online, Max: dm.Max, Executing: dm.Executing,
			Completed: dm.Completed, Failed: dm.Failed, Up: end.Sub(dm.Joined).Seconds()})
	}
	p := Point{T: now.UnixMilli(), Queued: st.Queued, Executing: st.Executing, Tasks: n, Max: ms(mx)}
	if len(lat) > 0 {
		slices.Sort(lat)
		p.P50, p.P95 = ms(lat[len(lat)*50/100]), ms(lat[min(len(lat)-1, len(lat)*95/100)])
	}

	db.mu.Lock()
	defer db.mu.Unlock()
	fin := st.Completed + st.Failed
	if dt := now.Sub(db.last).Seconds(); db.sampled && dt > 0 {
		p.Throughput = float64(fin-db.prev) / dt
	}
	db.prev, db.last, db.sampled = fin, now, true
	keep := min(int(db.cfg.history/db.cfg.interval), maxPoints)
	db.hist = append(db.hist, p)
	if len(db.hist) > keep {
		db.hist = slices.Delete(db.hist, 0, len(db.hist)-keep)
	}
	s.Point = p
	db.snap = s
	db.delta, _ = json.Marshal(s) // plain values: cannot fail
	s.History = db.hist
	db.full, _ = json.Marshal(s)
	close(db.next)
	db.next = make(chan struct{})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Snapshot returns the latest snapshot, History included. It does not
// block on the dispatcher.
func (db *Dashboard) Snapshot() Snapshot {
	db.mu.Lock()
	defer db.mu.Unlock()
	s := db.snap
	s.History = slices.Clone(db.hist)
	return s
}

// ServeHTTP serves the page, the /events stream and /snapshot.json (see
// the package doc), for GET and HEAD; other methods get 405. A stream
// blocks until the client goes away, a write to it has waited 10 s, or
// the dashboard closes.
func (db *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/events") || r.URL.Path == "events":
		db.serveEvents(w, r)
	case strings.HasSuffix(r.URL.Path, "/snapshot.json") || r.URL.Path == "snapshot.json":
		db.mu.Lock()
		b := db.full
		db.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(page)
	}
}

// serveEvents streams a snapshot per interval: the full one first, then
// the latest at each tick (a client that falls behind skips to it).
func (db *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	db.mu.Lock()
	if db.shut {
		db.mu.Unlock()
		http.Error(w, "dashboard closed", http.StatusServiceUnavailable)
		return
	}
	db.wg.Add(1) // under mu, so that it never races Close's Wait
	b, next := db.full, db.next
	db.mu.Unlock()
	db.clients.Add(1)
	defer func() {
		db.clients.Add(-1)
		db.wg.Done()
	}()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	for {
		_ = rc.SetWriteDeadline(time.Now().Add(db.wlimit)) // not every writer has one
		if _, err := w.Write(httpd.FormatSSE(httpd.Event{Event: "snapshot", Data: string(b)})); err != nil || rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-db.done:
			return
		case <-next:
		}
		db.mu.Lock()
		b, next = db.delta, db.next
		db.mu.Unlock()
	}
}

// Clients returns the number of open /events streams (one atomic load).
func (db *Dashboard) Clients() int { return int(db.clients.Load()) }

// Close stops the sampler and ends every /events stream, and returns once
// they have exited (a stream blocked in a write, at most 10 s later). It
// stops the dispatcher's latency hook and leaves the dispatcher open. A
// second Close returns ErrClosed.
func (db *Dashboard) Close() error {
	db.mu.Lock()
	if db.shut {
		db.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "dashboard: close"}
	}
	db.shut = true
	close(db.done)
	db.mu.Unlock()
	db.stop()
	db.wg.Wait()
	return nil
}
