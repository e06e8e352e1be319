package httpd_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test shuts its servers down and closes its clients; Shutdown and
// Close return only after the server's goroutines (websocket writers and
// request goroutines included) have exited, so nothing may be left.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
