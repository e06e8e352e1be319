package dashboard

import (
	"bytes"
	"testing"
)

func TestWriteSSE(t *testing.T) {
	for _, tc := range []struct {
		name, event, data, want string
	}{
		{"one line", "snapshot", `{"a":1}`, "event: snapshot\ndata: {\"a\":1}\n\n"},
		{"no event", "", "x", "data: x\n\n"},
		{"empty data", "ping", "", "event: ping\ndata: \n\n"},
		{"lines", "", "a\nb\r\nc\rd", "data: a\ndata: b\ndata: c\ndata: d\n\n"},
		{"trailing newline", "", "a\n", "data: a\ndata: \n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeSSE(&b, tc.event, []byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}
