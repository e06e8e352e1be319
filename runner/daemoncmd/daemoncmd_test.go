package daemoncmd_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact/runner"
	"github.com/nanoact/nanoact/runner/daemoncmd"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMainArgs(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	var errb bytes.Buffer
	if code := daemoncmd.MainArgs(context.Background(), reg, nil, &errb); code != 2 || !strings.Contains(errb.String(), "--dial") {
		t.Fatalf("no --dial: %d %q", code, errb.String())
	}
	if code := daemoncmd.MainArgs(context.Background(), reg, []string{"--dial", "tcp://127.0.0.1:1", "--log", "none"}, &errb); code != 1 {
		t.Fatalf("refused dial: %d", code)
	}
	if code := daemoncmd.MainArgs(context.Background(), reg, []string{"--bogus"}, &errb); code != 2 {
		t.Fatalf("bad flag: %d", code)
	}
}
