package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/metrics"
	"github.com/nanoact/nanoact/runner"
)

// shutdownTimeout bounds how long Server.Close waits for requests in
// progress.
const shutdownTimeout = 5 * time.Second

// WithMetricsName sets the runner and socket label of the dispatcher's
// metrics that Serve and Listen export at /metrics (default
// "dispatcher"). New ignores it.
func WithMetricsName(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.metricsName = name
		}
	})
}

// WithHTTP passes options to the httpd.Server that Serve and Listen start:
// httpd.WithTLS for an https:// URL, httpd.WithLogger, httpd.WithMaxBody.
// New ignores it. Given more than once, the options add up.
func WithHTTP(opts ...httpd.Option) Option {
	return optionFunc(func(c *config) { c.httpOpts = append(c.httpOpts, opts...) })
}

// Server is a Dashboard and the dispatcher's Prometheus metrics on an
// httpd.Server of their own, one port for everything: the page at /, its
// stream at /events, /snapshot.json, /metrics, and whatever Handle (or
// HTTP().Handle) adds. It is made by Serve or Listen, is safe for
// concurrent use, and must be Closed.
type Server struct {
	db   *Dashboard
	hs   *httpd.Server
	reg  *prometheus.Registry
	rc   *metrics.RunnerCollector
	once sync.Once
	err  error
}

// Serve starts a dashboard of d (see New for opts) and serves it, with
// d's metrics, on an httpd.Server at url ("http://127.0.0.1:0" picks a
// free port, which URL reports; "https://…" needs WithHTTP(httpd.WithTLS(…))).
// It answers
//
//	GET /               the page
//	GET /events         its Server-Sent Events
//	GET /snapshot.json  the current Snapshot
//	GET /metrics        Prometheus metrics: the dispatcher's (package
//	                    metrics' runner collector), its socket's, the Go
//	                    runtime's and the process's; Registry adds more
//
// It returns once the server listens, and costs the dashboard's
// goroutine, the server's accept goroutine and one goroutine per
// connection; each scrape of /metrics asks d for its Status once. Errors:
// ErrInvalid for a nil dispatcher or a URL httpd.New refuses,
// ErrAddrInvalid for a scheme other than http or https, ErrAddrInUse for a
// port taken.
func Serve(d *runner.Dispatcher, url string, opts ...Option) (*Server, error) {
	db, err := New(d, opts...)
	if err != nil {
		return nil, err
	}
	cfg := db.cfg
	reg := prometheus.NewRegistry()
	rc := metrics.NewRunnerCollector(cfg.metricsName, d)
	sc := metrics.NewSocketCollector()
	sc.Add(cfg.metricsName, d.Socket())
	reg.MustRegister(rc, sc, collectors.NewGoCollector(), // distinct collectors: cannot fail
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{db: db, reg: reg, rc: rc}
	s.hs, err = httpd.New(url, []httpd.Handler{
		httpd.Mount("/", db, httpd.Prefix()),
		httpd.Mount("/metrics", metrics.Handler(reg)),
	}, cfg.httpOpts...)
	if err == nil {
		err = s.hs.Start()
	}
	if err != nil {
		rc.Close()
		_ = db.Close()
		if s.hs != nil {
			_ = s.hs.Close()
		}
		return nil, err
	}
	return s, nil
}

// Listen is Serve on "http://" + addr: addr is a host and port, such as
// "127.0.0.1:0" (a free port; URL reports it) or ":8080".
func Listen(d *runner.Dispatcher, addr string, opts ...Option) (*Server, error) {
	return Serve(d, "http://"+addr, opts...)
}

// URL returns the page's address, e.g. "http://127.0.0.1:41234/"; the
// metrics are at URL()+"metrics".
func (s *Server) URL() string { return s.hs.URL() + "/" }

// Dashboard returns the dashboard the server serves.
func (s *Server) Dashboard() *Dashboard { return s.db }

// HTTP returns the server's httpd.Server, to add any handler of package
// httpd (websockets, streams, files) beside the page. Close it through
// Server.Close, not directly: the dashboard's streams would hold its
// Shutdown up.
func (s *Server) HTTP() *httpd.Server { return s.hs }

// Registry returns the registry /metrics serves, to register more
// collectors (an RPC server's, say) on the same page.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handle serves h at pattern beside the page: a path, which serves every
// path under it too when it ends in "/" (as http.ServeMux's do), for any
// method. It does not block. Errors: ErrInvalid for a pattern not starting
// with "/" or a nil h, ErrAddrInUse for a pattern already served (the
// page's "/" and "/metrics" included), ErrClosed after Close.
func (s *Server) Handle(pattern string, h http.Handler) error {
	var opts []httpd.HandlerOption
	if strings.HasSuffix(pattern, "/") {
		if len(pattern) > 1 {
			pattern = strings.TrimSuffix(pattern, "/")
		}
		opts = append(opts, httpd.Prefix())
	}
	if h == nil {
		return nanoact.Errorf(nanoact.CodeInvalid, "dashboard: handle "+pattern, "nil handler")
	}
	return s.hs.Handle(httpd.Mount(pattern, h, opts...))
}

// Close ends the dashboard's streams, then shuts the server down, waiting
// up to 5 s for requests in progress, and returns once its goroutines have
// exited. It leaves the dispatcher open. A second Close returns the
// first's result.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.err = s.db.Close()
		s.rc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		s.err = errors.Join(s.err, s.hs.Shutdown(ctx))
	})
	return s.err
}
