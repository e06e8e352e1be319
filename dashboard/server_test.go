package dashboard_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/dashboard"
	"github.com/nanoact/nanoact/internal/testkit"
)

// Listen serves the page and extra handlers on a port of its own; Close
// ends an open stream and the server; a taken port is ErrAddrInUse.
func TestListen(t *testing.T) {
	f := newFixture(t, 1)
	ctx := testkit.CtxT(t)
	s, err := dashboard.Listen(f.d, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.Handle("/hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hi") }))
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/") {
		t.Fatalf("URL %q", s.URL())
	}
	for path, want := range map[string]string{"": `id="completed"`, "hello": "hi"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Fatalf("GET /%s: %s lacks %q", path, resp.Status, want)
		}
	}
	st := openStream(t, ctx, s.URL()+"events")
	defer st.resp.Body.Close()
	if _, err := st.next(); err != nil {
		t.Fatal(err)
	}
	if _, err := dashboard.Listen(f.d, strings.TrimSuffix(strings.TrimPrefix(s.URL(), "http://"), "/")); !errors.Is(err, nanoact.ErrAddrInUse) {
		t.Fatalf("second Listen on the same port: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Dashboard().Clients() != 0 {
		t.Fatal("a stream outlived Close")
	}
	for {
		if _, err := st.next(); err != nil {
			break // the stream ended with the server
		}
	}
}
