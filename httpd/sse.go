package httpd

import (
	"strconv"
	"strings"
	"time"
)

// Event is one Server-Sent Event, formatted by FormatSSE.
type Event struct {
	// Data is the event's data; each of its lines becomes a "data:" line.
	Data string
	// Event is the event type ("event:" line), omitted when empty.
	Event string
	// ID is the event ID ("id:" line), omitted when empty. A reconnecting
	// browser sends the last one back in the Last-Event-ID header.
	ID string
	// Retry is the reconnection delay ("retry:" line, whole ms), omitted
	// when zero or negative.
	Retry time.Duration
}

// FormatSSE formats ev as a Server-Sent Event (nanonext's format_sse): the
// "event:", "id:" and "retry:" lines when set, one "data:" line per line of
// Data, and a blank line. For example FormatSSE(Event{Data: "a\nb", Event:
// "tick"}) is "event: tick\ndata: a\ndata: b\n\n". Send the result with
// StreamConn.Send on a stream whose Content-Type is text/event-stream.
//
// Unlike nanonext, Data is split at CR LF and lone CR as well as LF (an
// EventSource ends lines at all three, so a CR left in a data line would
// start a new field), and CR and LF are dropped from Event and ID, which
// would otherwise inject fields (and NUL from ID, which makes browsers
// ignore it). It allocates the result only.
func FormatSSE(ev Event) []byte {
	var b strings.Builder
	b.Grow(len(ev.Data) + len(ev.Event) + len(ev.ID) + 32)
	if ev.Event != "" {
		b.WriteString("event: ")
		b.WriteString(oneLine(ev.Event))
		b.WriteByte('\n')
	}
	if ev.ID != "" {
		b.WriteString("id: ")
		b.WriteString(strings.ReplaceAll(oneLine(ev.ID), "\x00", ""))
		b.WriteByte('\n')
	}
	if ev.Retry > 0 {
		b.WriteString("retry: ")
		b.WriteString(strconv.FormatInt(ev.Retry.Milliseconds(), 10))
		b.WriteByte('\n')
	}
	data := ev.Data
	for {
		i := strings.IndexAny(data, "\r\n")
		line := data
		if i >= 0 {
			line = data[:i]
		}
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}
