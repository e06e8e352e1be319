package dashboard

import (
	"bytes"
	"io"
)

// writeSSE writes one Server-Sent Event: an "event:" line when event is
// not empty, one "data:" line per line of data, and the blank line that
// ends the event (the framing of the WHATWG HTML standard). Lines may end
// in \n, \r\n or \r.
func writeSSE(w io.Writer, event string, data []byte) error {
	var b bytes.Buffer
	b.Grow(len(event) + len(data) + 16)
	if event != "" {
		b.WriteString("event: ")
		b.WriteString(event)
		b.WriteByte('\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		b.WriteString("data: ")
		if i < 0 {
			b.Write(data)
			b.WriteByte('\n')
			break
		}
		b.Write(data[:i])
		b.WriteByte('\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}
