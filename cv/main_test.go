package cv_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// CVs and Broadcasters own no goroutine; the actor system used by the
// supervisor test has none while idle.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ctxT is a context that ends with the test, or after 30 s.
func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
