// Command httpserver serves a REST endpoint, a websocket chat, a
// Server-Sent Events clock and a page that uses all three, on one port
// (nanonext's http_server). Open the printed URL in a browser; the page
// needs no network access beyond this server.
//
//	go run ./examples/httpserver                         # serve until Ctrl-C
//	go run ./examples/httpserver -url http://127.0.0.1:8080
//	go run ./examples/httpserver -demo                   # a client run, then exit
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/nanoact/nanoact/httpd"
	"github.com/nanoact/nanoact/ncurl"
	"github.com/nanoact/nanoact/sockets"
)

const page = `<!doctype html>
<meta charset="utf-8"><title>nanoact httpd</title>
<h1>nanoact httpd</h1>
<p>Server time (SSE): <b id="time">…</b></p>
<p>REST: <button id="hello">GET /api/hello</button> <span id="rest"></span></p>
<p>Chat (websocket, broadcast to every open page):
<input id="msg" placeholder="say something"> <button id="send">send</button></p>
<ul id="log"></ul>
<script>
const $ = (id) => document.getElementById(id);
new EventSource("/events").addEventListener("tick", (e) => { $("time").textContent = e.data; });
$("hello").onclick = async () => { $("rest").textContent = await (await fetch("/api/hello")).text(); };
const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/chat");
ws.onmessage = (e) => { const li = document.createElement("li"); li.textContent = e.data; $("log").prepend(li); };
$("send").onclick = () => { ws.send($("msg").value); $("msg").value = ""; };
</script>
`

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "where to listen (port 0: any free port)")
	demo := flag.Bool("demo", false, "run a client against the server, then exit")
	flag.Parse()
	if err := run(*url, *demo); err != nil {
		log.Fatal(err)
	}
}

// handlers returns the server's handlers; the clock runs until stop
// closes.
func handlers(stop <-chan struct{}, wg *sync.WaitGroup) []httpd.Handler {
	var chat *httpd.WSHandler // its Message callback broadcasts through it
	chat = httpd.WS("/chat", httpd.WSEvents{
		Open:    func(c *httpd.WSConn) { _ = c.SendText(fmt.Sprintf("welcome, client %d", c.ID())) },
		Message: func(c *httpd.WSConn, data []byte) { chat.Broadcast(fmt.Appendf(nil, "%d: %s", c.ID(), data)) },
	}, httpd.TextFrames())
	events := httpd.Stream("/events", func(c *httpd.StreamConn, _ *httpd.Request) {
		_ = c.SetHeader("Content-Type", "text/event-stream")
		_ = c.SetHeader("Cache-Control", "no-cache")
		_ = c.Send(httpd.FormatSSE(httpd.Event{Event: "tick", Data: time.Now().Format(time.TimeOnly)}))
	}, nil, httpd.Method("GET"))
	wg.Go(func() { // the clock: one event a second to every open stream
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				events.Broadcast(httpd.FormatSSE(httpd.Event{Event: "tick", Data: now.Format(time.TimeOnly)}))
			case <-stop:
				return
			}
		}
	})
	return []httpd.Handler{
		httpd.Inline("/", []byte(page), "text/html; charset=utf-8"),
		httpd.Handle("/api/hello", func(_ context.Context, req *httpd.Request) (*httpd.Response, error) {
			h := http.Header{"Content-Type": {"application/json"}}
			return &httpd.Response{Header: h, Body: fmt.Appendf(nil, `{"hello":%q}`, req.HTTP.RemoteAddr)}, nil
		}),
		chat,
		events,
	}
}

func run(url string, demo bool) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	s, err := httpd.New(url, handlers(stop, &wg))
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	fmt.Printf("serving on %s\n", s.URL())
	if demo {
		err = client(s.URL())
	} else {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := s.Shutdown(ctx); err == nil {
		err = serr
	}
	return err
}

// client uses each endpoint once, as the page does.
func client(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := ncurl.Get(ctx, url+"/api/hello")
	if err != nil {
		return err
	}
	fmt.Printf("GET /api/hello: %d\n", r.Status)
	// The first Server-Sent Event, read as a browser's EventSource would.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/events", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	fmt.Printf("events: %s", line)
	ws, err := sockets.DialStream(ctx, "ws"+url[len("http"):]+"/chat", sockets.TextFrames())
	if err != nil {
		return err
	}
	defer func() { _ = ws.Close() }()
	for _, want := range []string{"welcome", "said"} {
		if want == "said" {
			if err := ws.Send(ctx, "hi all"); err != nil {
				return err
			}
		}
		m, err := ws.Recv(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("chat: %s\n", m.Body)
	}
	return nil
}
