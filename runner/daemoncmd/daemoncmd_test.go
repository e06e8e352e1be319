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

// Usage (no --dial, a bad flag, --help) shows the flags as --name, the
// style of "nanoact daemon --help", never the flag package's -name.
func TestUsageDoubleDash(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	for _, args := range [][]string{nil, {"--bogus"}, {"--help"}, {"--grace=x"}} {
		var errb bytes.Buffer
		daemoncmd.MainArgs(context.Background(), reg, args, &errb)
		out := errb.String()
		if len(args) == 1 && args[0] == "--grace=x" && !strings.Contains(out, "flag --grace") {
			t.Errorf("a bad value does not name --grace:\n%s", out)
		}
		if len(args) == 1 && args[0] == "--bogus" && !strings.Contains(out, "not defined: --bogus") {
			t.Errorf("a bad flag is not named as --bogus:\n%s", out)
		}
		for _, name := range []string{"dial", "token", "grace", "max-frame", "log", "walltime", "finish", "interrupt-grace"} {
			if !strings.Contains(out, "  --"+name+" ") {
				t.Errorf("%q: usage lacks --%s:\n%s", args, name, out)
			}
			if strings.Contains(out, "  -"+name+" ") {
				t.Errorf("%q: usage shows -%s:\n%s", args, name, out)
			}
		}
	}
}
