package dashboard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/runner"
)

// Server is a Dashboard with an HTTP server of its own (net/http) on one
// TCP address, for programs that have no server to mount it on: the page
// at /, its stream at /events, and whatever Handle adds. It is made by
// Listen, is safe for concurrent use, and must be Closed.
type Server struct {
	db   *Dashboard
	mux  *http.ServeMux
	srv  *http.Server
	url  string
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

// Listen starts a dashboard of d (see New for opts) and serves it on addr
// ("127.0.0.1:0" picks a free port; URL reports it). It costs the
// dashboard's goroutine, the server's accept goroutine, and one goroutine
// per connection. Errors: ErrInvalid for a nil dispatcher; those of net.Listen
// with their NNG code (ErrAddrInUse for a port taken).
func Listen(d *runner.Dispatcher, addr string, opts ...Option) (*Server, error) {
	db, err := New(d, opts...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = db.Close()
		return nil, nngerr.Wrap(err, "dashboard: listen "+addr)
	}
	s := &Server{db: db, mux: http.NewServeMux(), url: "http://" + ln.Addr().String() + "/"}
	s.mux.Handle("/", db)
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() { _ = s.srv.Serve(ln) }) // returns ErrServerClosed at Close
	return s, nil
}

// URL returns the page's address, e.g. "http://127.0.0.1:41234/".
func (s *Server) URL() string { return s.url }

// Dashboard returns the dashboard the server serves.
func (s *Server) Dashboard() *Dashboard { return s.db }

// Handle serves h at pattern (http.ServeMux's patterns) beside the page,
// for example metrics.Handler at "/metrics". It panics, as ServeMux does,
// on a pattern that is invalid or already taken (a configuration error).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Close ends the dashboard's streams, then shuts the server down,
// waiting up to 5 s for requests in progress, and returns once its
// goroutines have exited. It leaves the dispatcher open. A second Close
// returns the first's result.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.err = s.db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
			s.err = errors.Join(s.err, err)
		}
		s.wg.Wait()
	})
	return s.err
}
