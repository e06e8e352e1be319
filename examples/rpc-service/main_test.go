package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example runs to completion in one process and leaves nothing behind.
func TestRun(t *testing.T) {
	if err := run("both", "tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
}
