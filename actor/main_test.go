package actor_test

import (
	"testing"

	"go.uber.org/goleak"
)

// No exception is needed: an idle System, including Default, runs no
// goroutine, and Close waits for the ones a busy System ran.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
