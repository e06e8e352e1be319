package httpd_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/httpd"
)

// parseSSE reads one event as an EventSource does (the HTML standard's
// event stream interpretation): lines end at CR LF, CR or LF; a blank line
// dispatches. It returns the fields and how many events were dispatched.
func parseSSE(s string) (data, event, id string, retry int64, events int) {
	retry = -1
	var buf strings.Builder
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			break // an unterminated line is never processed
		}
		line := s[:i]
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
		if line == "" {
			events++
			data = strings.TrimSuffix(buf.String(), "\n")
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "data":
			buf.WriteString(value + "\n")
		case "event":
			event = value
		case "id":
			if !strings.Contains(value, "\x00") {
				id = value
			}
		case "retry":
			if n, err := strconv.ParseInt(value, 10, 64); err == nil {
				retry = n
			}
		}
	}
	return data, event, id, retry, events
}

// Whatever the fields hold, FormatSSE's output is exactly one event that
// an EventSource reads back as the same data (line ends normalised to LF),
// type and ID (without CR, LF and NUL): no field can be injected.
func FuzzFormatSSE(f *testing.F) {
	f.Add("hello", "", "", int64(0))
	f.Add("a\nb\r\nc\rd", "tick", "7", int64(1500))
	f.Add("\n\n", "e\nvil", "1\r\n2", int64(-1))
	f.Add("data: x\n\nevent: y", ":comment", "id\x00", int64(1))
	f.Fuzz(func(t *testing.T, data, event, id string, retryMS int64) {
		ev := httpd.Event{Data: data, Event: event, ID: id, Retry: time.Duration(retryMS) * time.Millisecond}
		out := string(httpd.FormatSSE(ev))
		gotData, gotEvent, gotID, gotRetry, n := parseSSE(out)
		if n != 1 {
			t.Fatalf("%q is %d events", out, n)
		}
		strip := strings.NewReplacer("\r", "", "\n", "")
		wantData := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(data)
		wantID := strings.ReplaceAll(strip.Replace(id), "\x00", "")
		if gotData != wantData || gotEvent != strip.Replace(event) || gotID != wantID {
			t.Fatalf("%q read back as data %q event %q id %q", out, gotData, gotEvent, gotID)
		}
		if ev.Retry > 0 && gotRetry != ev.Retry.Milliseconds() {
			t.Fatalf("%q: retry %d, want %d", out, gotRetry, ev.Retry.Milliseconds())
		}
	})
}
