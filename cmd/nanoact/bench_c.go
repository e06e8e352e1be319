package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cSource is the C benchmark program's file name in --c-dir.
const cSource = "nngbench.c"

// cSystem runs a benchmark program as a child process per measurement,
// both ends in that process: the C NNG benchmark, nngbench built against
// Debian's libnng (the server side on a thread), or the R nanonext one,
// nanonext_bench.R under Rscript (bench_r.go). Both take "lat|thr URL SIZE
// COUNT [BUF]" and print one "system=..." line of key=value pairs. It
// reports a mean round trip only, and no allocation counts.
type cSystem struct {
	sys     string   // sysNNG or sysR
	label   string   // the program's name in errors
	bin     string   // the compiled nngbench, or Rscript
	pre     []string // arguments before the mode (Rscript's script)
	buf     int      // thr BUF argument; 0 leaves the program's default
	timeout time.Duration
	urls    *urlMaker
}

func (c *cSystem) name() string { return c.sys }

// prepareC finds nngbench.c and compiles it into dir with
// "cc -O2 -o nngbench nngbench.c -lnng -lpthread". When that cannot be
// done it returns a reason instead ("C NNG column skipped: <reason>").
func prepareC(ctx context.Context, cfg *benchConfig, dir string, urls *urlMaker) (*cSystem, string) {
	src, err := findBenchFile(cfg.cDir, cSource)
	if err != nil {
		return nil, err.Error()
	}
	cc, err := exec.LookPath(cfg.cc)
	if err != nil {
		return nil, fmt.Sprintf("no C compiler %q (%v); install one, or set --cc or $CC", cfg.cc, errors.Unwrap(err))
	}
	bin := filepath.Join(dir, "nngbench")
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cc, "-O2", "-o", bin, src, "-lnng", "-lpthread").CombinedOutput()
	if err != nil {
		msg := firstError(out)
		if msg == "" {
			msg = err.Error()
		}
		hint := ""
		if strings.Contains(msg, "nng") {
			hint = " (is libnng-dev installed? apt-get install -y libnng-dev)"
		}
		return nil, fmt.Sprintf("%s does not build: %s%s", src, msg, hint)
	}
	return &cSystem{sys: sysNNG, label: "nngbench", bin: bin, buf: cfg.cBuf, timeout: cfg.timeout, urls: urls}, ""
}

// findBenchFile locates file (nngbench.c, nanonext_bench.R) in dir: an
// absolute dir as it is, a relative one from the working directory and
// then from the module root (the nearest parent holding go.mod), so that
// the default "bench" works from the repository root, from cmd/nanoact
// (tests) and below.
func findBenchFile(dir, file string) (string, error) {
	var tried []string
	try := func(d string) (string, bool) {
		p := filepath.Join(d, file)
		tried = append(tried, p)
		st, err := os.Stat(p)
		return p, err == nil && st.Mode().IsRegular()
	}
	if filepath.IsAbs(dir) {
		if p, ok := try(dir); ok {
			return p, nil
		}
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("%s not found: %v", file, err)
		}
		if p, ok := try(filepath.Join(wd, dir)); ok {
			return p, nil
		}
		if root := moduleRoot(wd); root != "" && root != wd {
			if p, ok := try(filepath.Join(root, dir)); ok {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found (tried %s); set --c-dir", file, strings.Join(tried, ", "))
}

// moduleRoot returns the nearest directory at or above dir holding a
// go.mod, or "".
func moduleRoot(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// firstError returns the compiler's most telling line: a fatal error or
// a missing library ("cannot find -lnng"), else the first line saying
// "error", else the first line.
func firstError(out []byte) string {
	var first, anyErr string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.Contains(line, "fatal error") || strings.Contains(line, "cannot find") || strings.Contains(line, "undefined reference"):
			return line
		case anyErr == "" && strings.Contains(line, "error"):
			anyErr = line
		case first == "":
			first = line
		}
	}
	if anyErr != "" {
		return anyErr
	}
	return first
}

// latency runs "nngbench lat URL SIZE COUNT". nngbench warms up on its
// own (min(COUNT/10, 1000) round trips) and prints the mean round trip.
func (c *cSystem) latency(ctx context.Context, bc benchCase) (measurement, error) {
	kv, err := c.run(ctx, bc, "lat", strconv.Itoa(bc.count))
	if err != nil {
		return measurement{}, err
	}
	rtt, err := c.kvFloat(kv, "rtt_us")
	if err != nil {
		return measurement{}, err
	}
	return measurement{mean: time.Duration(rtt * float64(time.Microsecond)), version: kv["ver"]}, nil
}

// throughput runs "nngbench thr URL SIZE COUNT [BUF]" with COUNT one more
// than the timed messages: nngbench times from the first message to the
// last, as NNG's local_thr.
func (c *cSystem) throughput(ctx context.Context, bc benchCase) (measurement, error) {
	args := []string{strconv.Itoa(bc.count + 1)}
	if c.buf > 0 {
		args = append(args, strconv.Itoa(c.buf))
	}
	kv, err := c.run(ctx, bc, "thr", args...)
	if err != nil {
		return measurement{}, err
	}
	mps, err := c.kvFloat(kv, "msgs_per_s") // (COUNT-1)/total_s, to the message
	if err != nil {
		return measurement{}, err
	}
	if mps <= 0 {
		return measurement{}, fmt.Errorf("%s: msgs_per_s %v", c.label, mps)
	}
	return measurement{elapsed: time.Duration(float64(bc.count) / mps * float64(time.Second)), msgs: bc.count, version: kv["ver"]}, nil
}

// run runs the program once on a fresh address and parses its key=value
// line. A tcp port taken between choosing and binding it is retried.
func (c *cSystem) run(ctx context.Context, bc benchCase, mode string, args ...string) (map[string]string, error) {
	var lastErr error
	for range 3 {
		url, err := c.url(bc.transport)
		if err != nil {
			return nil, err
		}
		argv := append([]string{mode, url, strconv.Itoa(bc.size)}, args...)
		kv, err := c.exec(ctx, argv)
		if err == nil {
			return kv, nil
		}
		lastErr = err
		if bc.transport != "tcp" || !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	return nil, lastErr
}

func (c *cSystem) exec(ctx context.Context, argv []string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(slices.Clone(c.pre), argv...)...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no result within %v (--timeout)", c.timeout)
		}
		return nil, fmt.Errorf("%s %s: %v: %s", c.label, strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	for line := range strings.Lines(stdout.String()) {
		if !strings.HasPrefix(line, "system=") {
			continue
		}
		kv := map[string]string{}
		for _, f := range strings.Fields(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = v
			}
		}
		return kv, nil
	}
	return nil, fmt.Errorf("%s %s: no result line in %q", c.label, strings.Join(argv, " "), stdout.String())
}

// url returns a fresh address for the program: NNG's dialer needs a concrete
// tcp port for its dialer, so one is chosen by binding port 0 and letting
// it go.
func (c *cSystem) url(transport string) (string, error) {
	if transport != "tcp" {
		return c.urls.url(transport, c.sys), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("choosing a tcp port: %w", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "tcp://" + addr, nil
}

func (c *cSystem) kvFloat(kv map[string]string, key string) (float64, error) {
	v, err := strconv.ParseFloat(kv[key], 64)
	if err != nil {
		return 0, fmt.Errorf("%s: bad or missing %s in its output (%q)", c.label, key, kv[key])
	}
	return v, nil
}
