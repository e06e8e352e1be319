package main

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/internal/testkit/browser"
)

// The example's page, in a real browser, gets the Server-Sent Events and
// the websocket messages of the httpd server (as the DOM shows them), sends
// on the websocket and gets the broadcast back, calls the REST endpoint,
// and its connections end on the server when the browser leaves the page.
func TestBrowser(t *testing.T) {
	browser.Chromium(t)
	// A browser starts slowly on a busy machine: a minute for the whole test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	hs := handlers(stop, &wg)
	var chat *httpd.WSHandler
	var events *httpd.StreamHandler
	for _, h := range hs {
		switch h := h.(type) {
		case *httpd.WSHandler:
			chat = h
		case *httpd.StreamHandler:
			events = h
		}
	}
	s, err := httpd.New("http://127.0.0.1:0", hs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the browser's cleanup (registered later)
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		close(stop)
		wg.Wait()
	})
	bctx := browser.New(t, ctx)

	// Every value #time takes is recorded, so that the clock's next tick
	// cannot hide an event from the test.
	if err := chromedp.Do(bctx, chromedp.Navigate(s.URL()+"/"), chromedp.WaitVisible("#time")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.seen = [];
		new MutationObserver(() => window.seen.push(document.getElementById("time").textContent))
			.observe(document.getElementById("time"), {childList: true, characterData: true, subtree: true});
		true`)); err != nil {
		t.Fatal(err)
	}
	poll := func(what, expr string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Poll[string](expr, chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("the page never showed %s: %v\npage:\n%s", what, err, text)
		}
		return v
	}
	logged := func(re string) string { // the first #log line that matches re
		return `Array.from(document.querySelectorAll("#log li")).map(li => li.textContent).find(s => /` + re + `/.test(s)) || ""`
	}

	// SSE: the tick sent when the stream opens, then one the test sends.
	if v := poll("a first tick", `/^\d\d:\d\d:\d\d$/.test(document.getElementById("time").textContent) && document.getElementById("time").textContent`); !regexp.MustCompile(`^\d\d:\d\d:\d\d$`).MatchString(v) {
		t.Fatalf("#time %q", v)
	}
	if n := events.Broadcast(httpd.FormatSSE(httpd.Event{Event: "tick", Data: "from the test"})); n != 1 {
		t.Fatalf("the event went to %d streams, want the page's 1", n)
	}
	poll("the test's event", `window.seen.includes("from the test") && "yes"`)

	// Websocket: the welcome sent on open, a message the page sends and
	// gets back through the broadcast, and one the server broadcasts.
	welcome := poll("the welcome", logged(`^welcome, client \d+$`))
	id := strings.TrimPrefix(welcome, "welcome, client ")
	if chat.Conns() != 1 {
		t.Fatalf("%d websocket connections, want the page's 1", chat.Conns())
	}
	if err := chromedp.Do(bctx, chromedp.SendKeys("#msg", "hello from chromium"), chromedp.Click("#send")); err != nil {
		t.Fatal(err)
	}
	if got := poll("the round trip", logged(`: hello from chromium$`)); got != id+": hello from chromium" {
		t.Fatalf("round trip %q, want it from client %s", got, id)
	}
	if n := chat.Broadcast([]byte("the server says hi")); n != 1 {
		t.Fatalf("the broadcast went to %d connections, want 1", n)
	}
	poll("the broadcast", logged(`^the server says hi$`))

	// REST.
	if err := chromedp.Do(bctx, chromedp.Click("#hello")); err != nil {
		t.Fatal(err)
	}
	poll("the REST answer", `document.getElementById("rest").textContent.startsWith('{"hello":"127.0.0.1:') && "yes"`)

	shot, size := browser.Screenshot(t, bctx, "httpserver.png")
	t.Logf("screenshot: %s (%d bytes)", shot, size)

	// Leaving the page closes its websocket and its stream on the server
	// (no event to wait on from here: poll, bounded).
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for chat.Conns() != 0 || events.Conns() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after leaving the page: %d websocket and %d stream connections", chat.Conns(), events.Conns())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
