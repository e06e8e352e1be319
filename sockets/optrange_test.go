package sockets_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// A value out of an option's range is ErrInvalid, and the error says the
// range and what was given.
func TestOptionRangeErrors(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Pull)
	for _, tc := range []struct {
		name string
		v    any
		says string
	}{
		{"recv-buffer", 100000, "100000 is out of range (want 0..8192 messages)"},
		{"send-buffer", -1, "-1 is out of range (want 0..8192 messages)"},
		{"recv-size-max", -5, "want bytes >= 0; 0 is unlimited"},
		{"reconnect-time-min", -time.Second, "want a duration >= 0"},
		{"socket-name", strings.Repeat("x", 64), "a name of 64 bytes is out of range (want at most 63 bytes)"},
	} {
		err := sockets.SetOption(s, tc.name, tc.v)
		wantCode(t, err, nanoact.ErrInvalid)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("set %s %v: %v, want it to say %q", tc.name, tc.v, err, tc.says)
		}
	}
}
