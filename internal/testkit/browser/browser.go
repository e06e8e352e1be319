// Package browser starts headless Chromium for tests that drive a page in
// a real browser (chromedp), and checks at cleanup that none of its
// processes is left. Under CI=true a missing browser fails the test
// (.ci/run installs Debian's chromium); elsewhere the test is skipped.
package browser

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of the headless browser. Under CI=true a
// missing browser fails the test; elsewhere the test is skipped with a
// message. Call it first in a test, before setting anything up.
func Chromium(t testing.TB) string {
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

// New starts headless Chromium (Chromium's rules for a missing browser)
// with an empty profile of its own, offline (no background networking,
// updates, sync or QUIC), without the back/forward cache (a page left is
// closed, its connections with it), in a 1280x900 window, and returns the chromedp
// context of its first tab, bounded by ctx. At cleanup it closes the
// browser, waits (up to 10 s) for its helper processes to exit, and fails
// the test, killing them, if any is left.
func New(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	exe := Chromium(t)
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
		// chromedp's default list, plus the back/forward cache, which would
		// keep a page's connections open after the browser leaves it.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,BackForwardCache"),
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
			time.Sleep(10 * time.Millisecond) // no event tells when a process has exited
		}
	})
	return bctx
}

// Screenshot saves a PNG of the whole page of bctx as name under a
// temporary directory of t, and returns its path and size. It fails the
// test if the browser sends no PNG.
func Screenshot(t testing.TB, bctx context.Context, name string) (path string, size int) {
	t.Helper()
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot: %d bytes, not a PNG", len(png))
	}
	path = filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, len(png)
}
