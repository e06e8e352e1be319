package ncurl_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/nanoact/nanoact/ncurl"
)

func ExampleGet() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from "+r.URL.Path)
	}))
	defer srv.Close()

	r, err := ncurl.Get(context.Background(), srv.URL+"/greeting",
		ncurl.ResponseHeaders("content-type", "x-absent"))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, ok := r.Headers["x-absent"]
	fmt.Println(ncurl.StatusText(r.Status))
	fmt.Println(r.Headers["content-type"], ok)
	fmt.Println(r.Text)
	// Output:
	// 200 | OK
	// text/plain false
	// hello from /greeting
}

func ExampleDo() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}))
	defer srv.Close()

	ctx := context.Background()
	r, err := ncurl.Do(ctx, srv.URL+"/old", ncurl.Method("PUT"), ncurl.Body("data"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Status, r.Headers["Location"]) // not followed: Location reported

	r, err = ncurl.Do(ctx, srv.URL+"/old", ncurl.Method("PUT"), ncurl.Body("data"), ncurl.Follow(true))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Status, r.Text)
	// Output:
	// 301 /new
	// 200 PUT /new data
}

func ExampleSession() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %q", b)
	}))
	defer srv.Close()

	ctx := context.Background()
	s, err := ncurl.NewSession(ctx, srv.URL+"/api", ncurl.Method("POST"), ncurl.Body("ping"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	for _, opts := range [][]ncurl.Option{nil, {ncurl.Body("pong")}} {
		r, err := s.Transact(ctx, opts...) // same connection every time
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(r.Status, r.Text)
	}
	// Output:
	// 200 got "ping"
	// 200 got "pong"
}

func ExampleDoAsync() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "done")
	}))
	defer srv.Close()

	ctx := context.Background()
	c := ncurl.DoAsync(srv.URL + "/")
	r, err := c.Value(ctx) // blocks until complete
	fmt.Println(r.Text, err)

	// A promise fulfils only on status 200, as nanonext's.
	_, err = ncurl.DoAsync(srv.URL + "/missing").Promise().Await(ctx)
	fmt.Println(err)
	// Output:
	// done <nil>
	// ncurl: 404 | Not Found
}
