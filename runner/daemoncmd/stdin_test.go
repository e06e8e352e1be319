package daemoncmd

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/nanoact/nanoact/runner"
)

// The --stdin header fills the token and URL the command line left empty,
// refuses what it does not know, and the context ends with stdin.
func TestReadStdin(t *testing.T) {
	r, w := io.Pipe()
	dial, token := "", "from-flag"
	go func() {
		_, _ = io.WriteString(w, runner.EnvToken+"=secret\n"+runner.EnvDial+"=tcp://h:1\n\n")
	}()
	ctx, cancel, err := readStdin(context.Background(), r, &dial, &token)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if dial != "tcp://h:1" || token != "from-flag" {
		t.Fatalf("dial %q token %q", dial, token)
	}
	select {
	case <-ctx.Done():
		t.Fatal("ended while stdin is open")
	default:
	}
	_ = w.Close()
	<-ctx.Done()

	token = ""
	_, _, err = readStdin(context.Background(), strings.NewReader(runner.EnvToken+"=s\n\n"), &dial, &token)
	if err != nil || token != "s" {
		t.Fatal(token, err)
	}
	for _, bad := range []string{"", runner.EnvToken + "=s\n", "NANOACT_OTHER=1\n\n", "noequals\n\n"} {
		if _, _, err := readStdin(context.Background(), strings.NewReader(bad), &dial, &token); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	if os.Getenv(runner.EnvTLSCA) != "" {
		t.Fatal("certificate set")
	}
}
