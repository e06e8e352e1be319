package main

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The demo runs to completion against its own server and leaves nothing
// behind.
func TestRun(t *testing.T) {
	if err := run("http://127.0.0.1:0", true); err != nil {
		t.Fatal(err)
	}
}
