package runner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ctxT is a test's context: it ends with the test, or after 10 s.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond every few ms until it holds, failing the test
// after 15 s with what: for states that no event here reports.
func waitUntil(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	tk := time.NewTicker(2 * time.Millisecond)
	defer tk.Stop()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tk.C:
		case <-deadline.C:
			t.Fatal(what())
		}
	}
}

// ctxProc is the context of a test that starts processes, which may
// take seconds each on a loaded machine: it ends with the test, or after
// 60 s.
func ctxProc(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, err error, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got %v, want %v", err, target)
	}
}
