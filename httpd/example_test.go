package httpd_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/ncurl"
	"github.com/nanoact/nanoact/sockets"
)

// A REST endpoint, a static page and a redirect on one port.
func ExampleNew() {
	s, err := httpd.New("http://127.0.0.1:0", []httpd.Handler{
		httpd.Handle("/api/hello", func(_ context.Context, req *httpd.Request) (*httpd.Response, error) {
			h := http.Header{"Content-Type": {"application/json"}}
			return &httpd.Response{Header: h, Body: []byte(`{"hello":"` + string(req.Body) + `"}`)}, nil
		}, httpd.Method("POST")),
		httpd.Inline("/", []byte("<h1>home</h1>"), "text/html"),
		httpd.Redirect("/home", "/", http.StatusMovedPermanently),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Shutdown(context.Background()) }()

	ctx := context.Background()
	r, _ := ncurl.Do(ctx, s.URL()+"/api/hello", ncurl.Method("POST"), ncurl.Body("world"))
	fmt.Println(r.Status, r.Text)
	r, _ = ncurl.Get(ctx, s.URL()+"/home", ncurl.Follow(true))
	fmt.Println(r.Status, r.Text)
	r, _ = ncurl.Get(ctx, s.URL()+"/api/hello")
	fmt.Println(r.Status)
	// Output:
	// 200 {"hello":"world"}
	// 200 <h1>home</h1>
	// 405
}

// A websocket echo endpoint, reached with a nanoact stream.
func ExampleWS() {
	s, err := httpd.New("http://127.0.0.1:0", []httpd.Handler{
		httpd.WS("/echo", httpd.WSEvents{
			Message: func(c *httpd.WSConn, data []byte) { _ = c.Send(data) },
		}, httpd.TextFrames()),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Shutdown(context.Background()) }()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := sockets.DialStream(ctx, "ws"+s.URL()[len("http"):]+"/echo", sockets.TextFrames())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = st.Close() }()
	_ = st.Send(ctx, "hello")
	m, _ := st.Recv(ctx)
	fmt.Println(string(m.Body))
	// Output: hello
}

// Server-Sent Events: each client gets a greeting, then whatever is
// broadcast.
func ExampleStream() {
	events := httpd.Stream("/events", func(c *httpd.StreamConn, _ *httpd.Request) {
		_ = c.SetHeader("Content-Type", "text/event-stream")
		_ = c.SetHeader("Cache-Control", "no-cache")
		_ = c.Send(httpd.FormatSSE(httpd.Event{Data: "connected", ID: "1"}))
		_ = c.Close() // a real feed keeps c and sends later, e.g. with Broadcast
	}, nil, httpd.Method("GET"))
	s, err := httpd.New("http://127.0.0.1:0", []httpd.Handler{events})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Shutdown(context.Background()) }()
	r, _ := ncurl.Get(context.Background(), s.URL()+"/events")
	fmt.Printf("%q\n", r.Text)
	// Output: "id: 1\ndata: connected\n\n"
}

func ExampleFormatSSE() {
	fmt.Printf("%q\n", httpd.FormatSSE(httpd.Event{Data: "Line 1\nLine 2", Event: "update", Retry: 3 * time.Second}))
	// Output: "event: update\nretry: 3000\ndata: Line 1\ndata: Line 2\n\n"
}

// Any http.Handler mounts on the server (a Prometheus /metrics handler,
// say), and every httpd handler mounts on other Go servers.
func ExampleMount() {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "requests_total 1")
	})
	s, err := httpd.New("http://127.0.0.1:0", []httpd.Handler{httpd.Mount("/metrics", metrics, httpd.Method("GET"))})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = s.Close() }()
	r, _ := ncurl.Get(context.Background(), s.URL()+"/metrics")
	fmt.Print(r.Text)
	// Output: requests_total 1
}
