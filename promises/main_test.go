package promises_test

import (
	"testing"

	"go.uber.org/goleak"
)

// No exception is needed, not even for promises.Default: a loop is an
// actor, and an idle actor system has no goroutine half a millisecond
// after its last message.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
