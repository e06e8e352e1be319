package daemoncmd

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/nanoact/nanoact/runner"
)

// The --stdin header gives the token, refuses what it does not know, and
// the context ends with stdin.
func TestReadStdin(t *testing.T) {
	r, w := io.Pipe()
	token := "from-env"
	go func() {
		_, _ = io.WriteString(w, runner.EnvToken+"=secret\n\n")
	}()
	ctx, cancel, err := readStdin(context.Background(), r, &token)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if token != "secret" {
		t.Fatalf("token %q", token)
	}
	select {
	case <-ctx.Done():
		t.Fatal("ended while stdin is open")
	default:
	}
	_ = w.Close()
	<-ctx.Done()

	token = ""
	_, _, err = readStdin(context.Background(), strings.NewReader(runner.EnvToken+"=s\n\n"), &token)
	if err != nil || token != "s" {
		t.Fatal(token, err)
	}
	for _, bad := range []string{"", runner.EnvToken + "=s\n", runner.EnvDial + "=tcp://h:1\n\n", "noequals\n\n"} {
		if _, _, err := readStdin(context.Background(), strings.NewReader(bad), &token); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	if os.Getenv(runner.EnvTLSCA) != "" {
		t.Fatal("certificate set")
	}
}
