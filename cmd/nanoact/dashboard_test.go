package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The dashboard command serves the page, its snapshot and /metrics of a
// dispatcher that runs the demo load, and stops when its context ends.
func TestDashboardCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	pr, pw := io.Pipe()
	var errOut strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- run(rctx, []string{"dashboard", "--addr", "127.0.0.1:0", "--daemons", "2", "--rate", "200",
			"--task-ms", "1", "--interval", "20ms"}, pw, &errOut)
		_ = pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var url string
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "dashboard: "); ok {
			url = u
			break
		}
	}
	if url == "" {
		t.Fatalf("no URL printed (exit %d): %s", <-code, errOut.String())
	}
	drained := make(chan struct{})
	go func() { // the rest of the output, until run returns
		_, _ = io.Copy(io.Discard, pr)
		close(drained)
	}()
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %v", path, resp.Status, err)
		}
		return string(b)
	}
	if !strings.Contains(get(""), `id="completed"`) {
		t.Fatal("the page is not the dashboard")
	}
	// The demo load makes tasks complete (no event to wait on from here:
	// poll the snapshot, bounded).
	deadline := time.Now().Add(30 * time.Second)
	for {
		var snap struct{ Completed, Connections int }
		if err := json.Unmarshal([]byte(get("snapshot.json")), &snap); err != nil {
			t.Fatal(err)
		}
		if snap.Completed > 0 && snap.Connections == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no task completed: %+v", snap)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := get("metrics"); !strings.Contains(m, `nanoact_runner_tasks_completed_total{runner="demo"}`) ||
		!strings.Contains(m, `nanoact_socket_pipes{socket="demo"}`) {
		t.Fatalf("/metrics lacks the runner or socket metrics:\n%s", m)
	}
	stop()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, errOut.String())
	}
	<-drained
}

func TestDashboardUsage(t *testing.T) {
	var out, errOut strings.Builder
	if c := run(context.Background(), []string{"dashboard", "--fail", "2"}, &out, &errOut); c != 2 {
		t.Fatalf("exit %d, want 2: %s", c, errOut.String())
	}
}
