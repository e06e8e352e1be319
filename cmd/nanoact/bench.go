package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// benchConfig is the bench command's flags after parsing and --quick.
type benchConfig struct {
	count      int           // timed round trips per latency run
	warmup     int           // untimed round trips (messages) before each run
	msgs       int           // timed messages per throughput run (see thrCount)
	runs       int           // runs per case and system, interleaved
	sizes      []int         // message sizes in bytes
	transports []string      // inproc, ipc, tcp
	systems    []string      // nanoact, mangos, nng, floor, nanonext (R)
	jsonPath   string        // "" none, "-" stdout (replaces the table)
	plotPath   string        // "" none; format from the extension
	cDir       string        // directory holding nngbench.c (the repo's bench/)
	cc         string        // C compiler
	rscript    string        // Rscript, for the R nanonext column
	cBuf       int           // nngbench thr BUF argument (0 = NNG's defaults)
	timeout    time.Duration // per measurement
	progress   bool          // progress bar on stderr
	quick      bool
}

// Defaults of the bench flags, and the smaller counts of --quick.
const (
	defCount       = 10000
	defWarmup      = 1000
	defMsgs        = 50000
	defRuns        = 3
	quickCount     = 300
	quickWarmup    = 30
	quickMsgs      = 2000
	quickRuns      = 1
	thrBytesBudget = 512 << 20 // payload bytes per throughput run at most
)

// Bench returns the bench command: req/rep round-trip latency and
// push/pull throughput, the cases of NNG's perf tools, for nanoact, plain
// mangos and C NNG in one run.
func (commands) Bench() *cobra.Command {
	var (
		cfg        benchConfig
		sizes      []string
		transports []string
		systems    []string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Compare nanoact with plain mangos and C NNG (latency, throughput)",
		Long: `bench runs the cases of NNG's own perf tools, both ends in this process:

  lat  req/rep round trip: a req socket sends SIZE bytes to a rep socket that
       echoes them; --count timed round trips after --warmup untimed ones;
       median, p99 and mean in µs.
  thr  push/pull throughput: a push socket sends messages of SIZE bytes flat
       out to a pull socket; timed from the receipt of the first message after
       the warm-up to the last (as NNG's local_thr); msgs/s and MB/s.

for nanoact and for plain mangos (go.nanomsg.org/mangos/v3) in the same
process, over inproc, ipc and tcp, with the ratio nanoact/mangos. The
"floor" system runs the same cases over plain Go connections (TCP and Unix
sockets with an 8-byte length prefix, Go channels for inproc) with no
messaging library, and every table shows nanoact's distance to it. Runs of the
systems are interleaved (rotating the order) so that machine noise falls on
all of them alike. Go figures include allocations per round trip or message,
counted process-wide (both ends).

C NNG is a third column when the repository's own C program, bench/nngbench.c
(--c-dir), can be built against Debian's libnng (apt-get install -y
libnng-dev); it runs as a child process per case and reports only a mean
round trip. Otherwise bench
prints "C NNG column skipped: <reason>" and carries on.

R nanonext is an optional column when Rscript (--rscript) can load the
nanonext package: the repository's bench/nanonext_bench.R runs as a child
process per case, both ends in one R process (send and recv in raw mode, the
push end running ahead without blocking), and reports a mean round trip and
a message rate, as the C column. Otherwise bench prints "R nanonext column
skipped: <reason>" and carries on (also under CI=true: R is optional).

The tables go to stdout, a progress bar to stderr when stderr is a terminal
(or --progress). --json writes every figure, --plot draws them (.png, .svg or
.pdf). The "target" column checks the goals of the benchmark issue (see
docs/benchmarks.md).`,
		Example: `  nanoact bench --quick
  nanoact bench --plot bench.png --json bench.json
  nanoact bench --transports tcp --sizes 64KiB --count 20000 --systems nanoact,mangos`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if err := cfg.finish(sizes, transports, systems, f.Changed); err != nil {
				return usageError{err}
			}
			if !f.Changed("progress") {
				cfg.progress = isTerminal(cmd.ErrOrStderr())
			}
			return runBench(cmd.Context(), &cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.count, "count", defCount, "timed req/rep round trips per latency run")
	f.IntVar(&cfg.warmup, "warmup", defWarmup, "untimed round trips (messages) before each run")
	f.IntVar(&cfg.msgs, "msgs", defMsgs, fmt.Sprintf("timed push/pull messages per throughput run (at most %d MiB of payload)", thrBytesBudget>>20))
	f.IntVar(&cfg.runs, "runs", defRuns, "runs per case and system (interleaved); latency pools the samples, throughput takes the median")
	f.StringSliceVar(&sizes, "sizes", []string{"8", "1KiB", "64KiB"}, "message sizes (bytes, or with a KiB/MiB suffix)")
	f.StringSliceVar(&transports, "transports", []string{"inproc", "ipc", "tcp"}, "transports: inproc, ipc, tcp")
	f.StringSliceVar(&systems, "systems", []string{"nanoact", "mangos", "c", "floor", "r"}, "systems: nanoact, mangos, c (C NNG; also \"nng\"), floor (plain Go sockets, no library), r (R nanonext; also \"nanonext\", optional)")
	f.StringVar(&cfg.jsonPath, "json", "", "write the results as JSON to `FILE` (\"-\": stdout, instead of the tables)")
	f.StringVar(&cfg.plotPath, "plot", "", "draw latency and throughput per case to `FILE` (.png, .svg or .pdf)")
	f.StringVar(&cfg.cDir, "c-dir", "bench", "`DIR` holding nngbench.c and nanonext_bench.R (the repository's own, in bench/); a relative path is tried from the working directory, then from the module root")
	f.StringVar(&cfg.cc, "cc", envOr("CC", "cc"), "C compiler for the C NNG benchmark")
	f.StringVar(&cfg.rscript, "rscript", envOr("RSCRIPT", "Rscript"), "Rscript for the R nanonext column")
	f.IntVar(&cfg.cBuf, "c-buf", 0, "C NNG and R nanonext throughput: NNG_OPT_SENDBUF/RECVBUF in messages (0 = NNG's defaults; R's script uses 128)")
	f.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "time limit of one measurement")
	f.BoolVar(&cfg.progress, "progress", false, "show progress on stderr (default: when stderr is a terminal)")
	f.BoolVar(&cfg.quick, "quick", false, fmt.Sprintf("small counts for a smoke test (--count %d --warmup %d --msgs %d --runs %d unless given)", quickCount, quickWarmup, quickMsgs, quickRuns))
	return cmd
}

// finish parses the list flags, applies --quick to the counts not given
// explicitly, and validates the result.
func (c *benchConfig) finish(sizes, transports, systems []string, changed func(string) bool) error {
	if c.quick {
		for _, q := range []struct {
			flag string
			p    *int
			v    int
		}{{"count", &c.count, quickCount}, {"warmup", &c.warmup, quickWarmup}, {"msgs", &c.msgs, quickMsgs}, {"runs", &c.runs, quickRuns}} {
			if !changed(q.flag) {
				*q.p = q.v
			}
		}
	}
	if c.count < 1 || c.msgs < 1 || c.runs < 1 || c.warmup < 0 || c.cBuf < 0 || c.timeout <= 0 {
		return errors.New("bench: --count, --msgs and --runs must be at least 1, --warmup and --c-buf not negative, --timeout positive")
	}
	c.sizes = c.sizes[:0]
	for _, s := range sizes {
		n, err := parseSize(s)
		if err != nil {
			return err
		}
		if !slices.Contains(c.sizes, n) {
			c.sizes = append(c.sizes, n)
		}
	}
	c.transports = c.transports[:0]
	for _, t := range transports {
		t = strings.ToLower(strings.TrimSpace(t))
		if !slices.Contains([]string{"inproc", "ipc", "tcp"}, t) {
			return fmt.Errorf("bench: unknown transport %q (want inproc, ipc or tcp)", t)
		}
		if !slices.Contains(c.transports, t) {
			c.transports = append(c.transports, t)
		}
	}
	c.systems = c.systems[:0]
	for _, s := range systems {
		s = strings.ToLower(strings.TrimSpace(s))
		switch s {
		case "c", "nng", "c-nng":
			s = sysNNG
		case "r", "nanonext", "r-nanonext":
			s = sysR
		case sysNanoact, sysMangos, sysFloor:
		default:
			return fmt.Errorf("bench: unknown system %q (want nanoact, mangos, c, floor or r)", s)
		}
		if !slices.Contains(c.systems, s) {
			c.systems = append(c.systems, s)
		}
	}
	if len(c.sizes) == 0 || len(c.transports) == 0 || len(c.systems) == 0 {
		return errors.New("bench: --sizes, --transports and --systems must not be empty")
	}
	return nil
}

// parseSize parses "8", "8B", "1KiB", "1k", "64KiB", "1MiB" (binary units).
func parseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"kb", 1 << 10}, {"k", 1 << 10}, {"mib", 1 << 20}, {"mb", 1 << 20}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n > 64<<20/mult {
		return 0, fmt.Errorf("bench: bad size %q (want 1 B to 64 MiB, e.g. 8, 1KiB, 64KiB)", s)
	}
	return n * mult, nil
}

// sizeName prints a size as the tables do: 8B, 1KiB, 64KiB, 1500B.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// thrCount is the number of timed messages of one throughput run: --msgs,
// but no more than thrBytesBudget of payload and no fewer than 1000.
func (c *benchConfig) thrCount(size int) int {
	return min(c.msgs, max(1000, thrBytesBudget/size))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// system is one implementation under test: nanoact, plain mangos (both
// goSystem) or C NNG (cSystem).
type system interface {
	// name is the system's key: sysNanoact, sysMangos or sysNNG.
	name() string
	// latency measures one req/rep run of c.
	latency(ctx context.Context, c benchCase) (measurement, error)
	// throughput measures one push/pull run of c.
	throughput(ctx context.Context, c benchCase) (measurement, error)
}

// The systems' keys, as in JSON and --systems.
const (
	sysNanoact = "nanoact"
	sysMangos  = "mangos"
	sysNNG     = "nng"
	sysFloor   = "floor"    // plain Go connections, no library (bench_floor.go)
	sysR       = "nanonext" // R nanonext under Rscript, optional (bench_r.go)
)

// meanOnly says whether sys reports a mean round trip only, no samples
// and no allocation counts: the child-process systems, C NNG and R nanonext.
func meanOnly(sys string) bool { return sys == sysNNG || sys == sysR }

// columnName is a system's name in a table's column heads.
func columnName(sys string) string {
	switch sys {
	case sysNNG:
		return "C-NNG"
	case sysR:
		return "R-nanonext"
	}
	return sys
}

// displayName is a system's name in the tables and the plot.
func displayName(sys string) string {
	switch sys {
	case sysNNG:
		return "C NNG"
	case sysFloor:
		return "Go floor"
	case sysR:
		return "R nanonext"
	}
	return sys
}

// The two kinds of case.
const (
	kindLat = "lat" // req/rep round trip
	kindThr = "thr" // push/pull throughput
)

// benchCase is one measurement's parameters.
type benchCase struct {
	kind      string // kindLat or kindThr
	transport string // inproc, ipc, tcp
	size      int    // payload bytes
	count     int    // timed round trips or messages
	warmup    int    // untimed round trips or messages before
}

// measurement is one run of one case on one system.
type measurement struct {
	samples []time.Duration // lat, Go systems: each round trip
	mean    time.Duration   // lat: total time / count
	elapsed time.Duration   // thr: from the first timed message to the last
	msgs    int             // thr: messages timed
	allocs  *float64        // allocations per round trip or message; nil if unknown
	bytes   *float64        // bytes allocated per round trip or message
	version string          // the system's version, if it reports one
}

// runBench measures every case on every system and writes the report.
func runBench(ctx context.Context, cfg *benchConfig, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "nanoact-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	urls := &urlMaker{dir: dir}
	rep := newReport(cfg)

	var systems []system
	for _, name := range cfg.systems {
		switch name {
		case sysNanoact:
			systems = append(systems, &goSystem{impl: nanoactImpl{}, urls: urls, timeout: cfg.timeout})
			rep.Versions[sysNanoact] = moduleVersion("")
		case sysMangos:
			systems = append(systems, &goSystem{impl: mangosImpl{}, urls: urls, timeout: cfg.timeout})
			rep.Versions[sysMangos] = moduleVersion(mangosModule)
		case sysFloor:
			systems = append(systems, &goSystem{impl: floorImpl{}, urls: urls, timeout: cfg.timeout})
		case sysNNG:
			c, reason := prepareC(ctx, cfg, dir, urls)
			if reason != "" {
				rep.Skipped[sysNNG] = reason
				continue
			}
			systems = append(systems, c)
		case sysR:
			r, ver, reason := prepareR(ctx, cfg, urls)
			if reason != "" {
				rep.Skipped[sysR] = reason
				continue
			}
			rep.Versions[sysR] = ver
			systems = append(systems, r)
		}
	}
	if len(systems) == 0 {
		return fmt.Errorf("bench: no system to measure (%s)", skippedText(rep.Skipped))
	}

	steps := len(cfg.transports) * len(cfg.sizes) * 2 * len(systems) * cfg.runs
	bar := newProgress(stderr, cfg.progress, steps)
	failed := 0
	for _, tr := range cfg.transports {
		for _, size := range cfg.sizes {
			for _, kind := range []string{kindLat, kindThr} {
				c := benchCase{kind: kind, transport: tr, size: size, count: cfg.count, warmup: cfg.warmup}
				if kind == kindThr {
					c.count = cfg.thrCount(size)
					c.warmup = max(1, min(cfg.warmup, c.count/10))
				}
				runs := make([][]measurement, len(systems))
				errs := make([]error, len(systems))
				for r := range cfg.runs {
					for k := range systems {
						i := (k + r) % len(systems) // rotate the order run by run
						if errs[i] != nil {
							bar.add()
							continue
						}
						if err := ctx.Err(); err != nil {
							bar.finish()
							return fmt.Errorf("bench: %w", err)
						}
						bar.describe(fmt.Sprintf("%s %s %s %s (run %d/%d)", kind, tr, sizeName(size), displayName(systems[i].name()), r+1, cfg.runs))
						var m measurement
						var err error
						if kind == kindLat {
							m, err = systems[i].latency(ctx, c)
						} else {
							m, err = systems[i].throughput(ctx, c)
						}
						if err != nil {
							errs[i] = err
						} else {
							runs[i] = append(runs[i], m)
						}
						bar.add()
					}
				}
				for i, s := range systems {
					res := aggregate(s.name(), c, runs[i], errs[i])
					if errs[i] != nil {
						failed++
					}
					if res.Version != "" {
						rep.Versions[s.name()] = res.Version
					}
					rep.Results = append(rep.Results, res)
				}
			}
		}
	}
	bar.finish()
	rep.done()

	if cfg.jsonPath == "-" {
		for _, sys := range slices.Sorted(maps.Keys(rep.Skipped)) {
			fmt.Fprintf(stderr, "%s column skipped: %s\n", displayName(sys), rep.Skipped[sys])
		}
		if err := writeJSON(stdout, rep); err != nil {
			return fmt.Errorf("bench: json: %w", err)
		}
	} else {
		if err := writeTables(stdout, rep); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if cfg.jsonPath != "" {
			if err := writeJSONFile(cfg.jsonPath, rep); err != nil {
				return fmt.Errorf("bench: json: %w", err)
			}
		}
	}
	if cfg.plotPath != "" {
		if err := writePlot(cfg.plotPath, rep); err != nil {
			return fmt.Errorf("bench: plot: %w", err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("bench: %d measurement(s) failed (see the tables)", failed)
	}
	return nil
}
