package dashboard_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nanoact/nanoact/internal/testkit/browser"
	"github.com/nanoact/nanoact/runner"
)

// The page, in a real browser, shows the daemon and completed counts of
// Status, and follows them as tasks finish.
func TestBrowser(t *testing.T) {
	browser.Chromium(t)
	f := newFixture(t, 3)
	// A browser starts slowly on a busy machine. This bounds only a hung
	// test (each wait below has its own 20 s): the test takes about 6 s on
	// 2 cores at load 10, but ran out of a minute at load 20 with all its
	// checks passed, during the screenshot; three minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	bctx := browser.New(t, ctx)

	if err := chromedp.Do(bctx, chromedp.Navigate(f.srv.URL+"/dash/"), chromedp.WaitVisible("#completed")); err != nil {
		t.Fatal(err)
	}
	// shows waits until the page shows want for Status' connections and
	// completed counts, both as text and in data-value.
	shows := func(st runner.Status) {
		t.Helper()
		expr := fmt.Sprintf(`document.getElementById("daemons").textContent === %[1]q &&
			document.getElementById("daemons").dataset.value === %[1]q &&
			document.getElementById("completed").textContent === %[2]q &&
			document.getElementById("completed").dataset.value === %[2]q &&
			document.querySelectorAll("#daemon-rows tr.online").length === %[3]d &&
			document.getElementById("live").textContent === "live"`,
			strconv.Itoa(st.Connections), strconv.FormatInt(st.Completed, 10), len(st.Daemons))
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
			t.Fatalf("page never showed %d daemons and %d completed: %v\npage:\n%s", st.Connections, st.Completed, err, text)
		}
	}
	status := func() runner.Status {
		t.Helper()
		st, err := f.d.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	f.run(t, ctx, 12)
	before := status()
	if before.Connections != 3 || before.Completed != 12 {
		t.Fatalf("status %+v", before)
	}
	shows(before)

	// A task held on its daemon shows as executing; then more finish.
	held := f.sq.Submit(ctx, f.d, -2)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("executing").textContent === "1"`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the held task never showed as executing: %v", err)
	}
	close(f.release)
	if _, err := held.Value(ctx); err != nil {
		t.Fatal(err)
	}
	f.run(t, ctx, 7)
	after := status()
	if after.Completed != before.Completed+8 {
		t.Fatalf("completed %d, want %d", after.Completed, before.Completed+8)
	}
	shows(after)
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#daemon-rows tr td:first-child")).map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	for i, dm := range after.Daemons {
		if i >= len(rows) || rows[i] != dm.ID {
			t.Fatalf("daemon rows %v, want the ids of %+v", rows, after.Daemons)
		}
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil || title != "test <dispatcher>" {
		t.Fatalf("title %q %v", title, err)
	}

	shot, size := browser.Screenshot(t, bctx, "dashboard.png")
	if size < 10_000 {
		t.Fatalf("screenshot: %d bytes, not a picture of the page", size)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, size)
}
