// Command rpc-service runs a supervised RPC service and a client: plain
// requests, a handler that panics on purpose and is restarted while the
// other workers keep serving, an error reply, and a graceful shutdown.
//
//	go run ./examples/rpc-service                      # both in one process
//	go run ./examples/rpc-service -role server -url tcp://127.0.0.1:5555
//	go run ./examples/rpc-service -role client -url tcp://127.0.0.1:5555
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/rpc"
	"github.com/nanoact/nanoact/sockets"
)

func main() {
	role := flag.String("role", "both", "both, server or client")
	url := flag.String("url", "inproc://rpc-service", "where the server listens and the client dials")
	flag.Parse()
	if *role == "both" && *url == "inproc://rpc-service" {
		*url = "tcp://127.0.0.1:0"
	}
	if err := run(*role, *url); err != nil {
		log.Fatal(err)
	}
}

// greet is the service: it upper-cases names, fails on "error" and panics
// on "crash".
func greet(_ context.Context, name string) (string, error) {
	switch name {
	case "crash":
		panic("asked to crash")
	case "error":
		return "", errors.New("asked to fail")
	}
	return "hello, " + strings.ToUpper(name), nil
}

func run(role, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var srv *rpc.Server
	if role == "both" || role == "server" {
		var err error
		srv, err = startServer(url)
		if err != nil {
			return err
		}
		url = srv.URL()
		fmt.Printf("server: 4 workers listening on %s\n", url)
	}
	if role == "server" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		<-sig
	} else if err := client(ctx, url); err != nil {
		return err
	}
	if srv == nil {
		return nil
	}
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	fmt.Printf("server: shut down after %d worker crash(es)\n", srv.Failures())
	return nil
}

func startServer(url string) (*rpc.Server, error) {
	// Worker crashes are logged; show only warnings and above, briefly.
	cfg := zap.NewDevelopmentConfig()
	cfg.Level = zap.NewAtomicLevelAt(zap.WarnLevel)
	cfg.DisableStacktrace = true
	cfg.EncoderConfig.TimeKey = ""
	l, err := cfg.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return noStack{c} }))
	if err != nil {
		return nil, err
	}
	return rpc.NewServer(greet, rpc.WithListen(url), rpc.WithWorkers(4), rpc.WithLogger(l),
		rpc.WithRestartBackoff(10*time.Millisecond, 200*time.Millisecond))
}

func client(ctx context.Context, url string) error {
	cl, err := rpc.NewClient(sockets.Dial(url, sockets.Sync))
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, name := range []string{"ada", "crash", "grace", "error", "linus"} {
		reply, err := rpc.Call[string](ctx, cl, name)
		switch {
		case errors.Is(err, rpc.ErrRemote):
			fmt.Printf("client: %-6s -> error reply from the server (its handler failed)\n", name)
		case err != nil:
			return err
		default:
			fmt.Printf("client: %-6s -> %s\n", name, reply)
		}
	}
	// Many at once: each call borrows a context, so replies never mix.
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	calls := make([]*aio.Aio[string], len(names))
	for i, n := range names {
		calls[i] = rpc.Go[string](cl, n)
	}
	replies, errs := aio.CollectAll(ctx, calls)
	for i, r := range replies {
		if errs != nil && errs[i] != nil {
			return errs[i]
		}
		if r != "hello, "+strings.ToUpper(names[i]) {
			return fmt.Errorf("reply %d mixed up: %q", i, r)
		}
	}
	fmt.Printf("client: %d concurrent calls, every reply to its caller\n", len(names))
	return nil
}

// noStack drops "stack" fields, to keep the example's output short; a
// real service keeps them.
type noStack struct{ zapcore.Core }

func (c noStack) With(fs []zapcore.Field) zapcore.Core { return noStack{c.Core.With(fs)} }

func (c noStack) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c noStack) Write(e zapcore.Entry, fs []zapcore.Field) error {
	kept := fs[:0:0]
	for _, f := range fs {
		if f.Key != "stack" {
			kept = append(kept, f)
		}
	}
	return c.Core.Write(e, kept)
}
