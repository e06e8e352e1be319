package ncurl_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test closes its servers and sessions and waits for its calls, so
// nothing may be left running: the package itself starts no goroutine
// that outlives a call.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
