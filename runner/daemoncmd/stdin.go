package daemoncmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nanoact/nanoact/runner"
)

// readStdin reads the --stdin header from r: NAME=value lines up to an
// empty line, for runner.EnvToken and EnvTLSCA (others are an error). The
// token replaces *token; the certificate goes to the environment, where
// MainArgs looks for it. The returned context ends with ctx or when r
// reaches its end or fails (the ssh session that feeds it has gone): a
// goroutine reads r until then, and the process is expected to exit
// after MainArgs returns. It blocks until the header has been read.
func readStdin(ctx context.Context, r io.Reader, token *string) (context.Context, context.CancelFunc, error) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("header ended before its empty line: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			return nil, nil, fmt.Errorf("line without NAME=: %.20q", line)
		case k == runner.EnvToken:
			*token = v
		case k == runner.EnvTLSCA:
			if err := os.Setenv(k, v); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, fmt.Errorf("unknown variable %q", k)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, br)
		cancel()
	}()
	return ctx, cancel, nil
}
