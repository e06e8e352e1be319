package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nanoact/nanoact/runner"
)

// chromium returns the path of the headless browser. Under CI=true a
// missing browser fails the test (.ci/run installs Debian's chromium);
// elsewhere the test is skipped with a message.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: CI must install it (apt-get install -y chromium, as .ci/run does)")
	}
	t.Skip("chromium not found: install it (apt-get install -y chromium) to run the browser test")
	return ""
}

// leftovers lists the processes whose command line names dir (the
// browser's user data directory, which only its processes carry).
func leftovers(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte("--user-data-dir="+dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// newBrowser starts headless Chromium with an empty profile of its own,
// offline (no background networking, updates, sync or QUIC), and stops
// it at cleanup, checking that none of its processes is left.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	exe := chromium(t)
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		// Cancel closes the browser and waits for its process to exit.
		cctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Cancel(cctx); err != nil {
			t.Errorf("closing the browser: %v", err)
		}
		cancelBrowser()
		cancelAlloc()
		// Its helpers (zygote, renderer) exit after it: wait for them, bounded.
		deadline := time.Now().Add(10 * time.Second)
		for {
			pids := leftovers(dir)
			if len(pids) == 0 {
				return
			}
			if time.Now().After(deadline) {
				for _, pid := range pids {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
				}
				t.Errorf("chromium processes %v outlived the browser (killed)", pids)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	return bctx
}

// The page, in a real browser, shows the daemon and completed counts of
// Status, and follows them as tasks finish.
func TestBrowser(t *testing.T) {
	chromium(t)
	f := newFixture(t, 3)
	// A browser starts slowly on a busy machine: a minute for the whole test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	bctx := newBrowser(t, ctx)

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

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
		t.Fatalf("screenshot: %d bytes, not a PNG of the page", len(png))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
