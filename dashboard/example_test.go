package dashboard_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nanoact/nanoact/dashboard"
	"github.com/nanoact/nanoact/ncurl"
	"github.com/nanoact/nanoact/runner"
)

// A program with a dispatcher gets its live page and its Prometheus
// metrics on one port with one call.
func ExampleServe() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := runner.NewDispatcher("")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	srv, err := dashboard.Serve(d, "http://127.0.0.1:0", dashboard.WithTitle("my dispatcher"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	// srv.URL() is the page, e.g. http://127.0.0.1:41234/; srv.URL()+"metrics"
	// is for Prometheus to scrape.
	page, err := ncurl.Get(ctx, srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("page:", page.Status, bytes.Contains(page.Data, []byte(`id="completed"`)))
	m, err := ncurl.Get(ctx, srv.URL()+"metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	for sc := bufio.NewScanner(bytes.NewReader(m.Data)); sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "nanoact_runner_connections{") {
			fmt.Println("metrics:", m.Status, sc.Text())
		}
	}
	// Output:
	// page: 200 true
	// metrics: 200 nanoact_runner_connections{runner="dispatcher"} 0
}
