package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one bench run measured; --json writes it as is.
type report struct {
	Started    time.Time         `json:"started"`
	Seconds    float64           `json:"seconds"`
	Go         string            `json:"go"`
	OS         string            `json:"os"`
	Arch       string            `json:"arch"`
	CPUs       int               `json:"cpus"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	LoadBefore string            `json:"load_before,omitempty"` // 1, 5 and 15 min load average (Linux)
	LoadAfter  string            `json:"load_after,omitempty"`
	Versions   map[string]string `json:"versions"`          // by system
	Skipped    map[string]string `json:"skipped,omitempty"` // system → reason
	Config     reportConfig      `json:"config"`
	Results    []result          `json:"results"`
}

// reportConfig records the flags that shape the figures.
type reportConfig struct {
	Count      int      `json:"count"`
	Warmup     int      `json:"warmup"`
	Msgs       int      `json:"msgs"`
	Runs       int      `json:"runs"`
	Sizes      []int    `json:"sizes"`
	Transports []string `json:"transports"`
	Systems    []string `json:"systems"`
	CBuf       int      `json:"c_buf,omitempty"`
	Quick      bool     `json:"quick,omitempty"`
}

// result is one case on one system. Figures a system does not report are
// zero (omitted from JSON), allocation counts nil.
type result struct {
	System    string `json:"system"` // nanoact, mangos, nng
	Case      string `json:"case"`   // lat, thr
	Transport string `json:"transport"`
	Size      int    `json:"size"`
	Count     int    `json:"count"` // timed round trips or messages per run
	Runs      int    `json:"runs"`  // runs that succeeded
	Version   string `json:"version,omitempty"`

	MedianUS float64 `json:"median_us,omitempty"` // lat, Go systems
	P99US    float64 `json:"p99_us,omitempty"`    // lat, Go systems
	MeanUS   float64 `json:"mean_us,omitempty"`   // lat
	MsgsPerS float64 `json:"msgs_per_s,omitempty"`
	MBPerS   float64 `json:"mb_per_s,omitempty"`
	// PerRun is each run's mean round trip (µs) or msgs/s, in order.
	PerRun []float64 `json:"per_run,omitempty"`

	AllocsPerOp *float64 `json:"allocs_per_op,omitempty"` // Go systems, process-wide
	BytesPerOp  *float64 `json:"bytes_per_op,omitempty"`

	Err string `json:"error,omitempty"`
}

func newReport(cfg *benchConfig) *report {
	return &report{
		Started:    time.Now().UTC().Truncate(time.Second),
		Go:         runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		LoadBefore: loadAverage(),
		Versions:   map[string]string{},
		Skipped:    map[string]string{},
		Config: reportConfig{
			Count: cfg.count, Warmup: cfg.warmup, Msgs: cfg.msgs, Runs: cfg.runs,
			Sizes: cfg.sizes, Transports: cfg.transports, Systems: cfg.systems,
			CBuf: cfg.cBuf, Quick: cfg.quick,
		},
	}
}

func (r *report) done() {
	r.Seconds = math.Round(time.Since(r.Started).Seconds()*10) / 10
	r.LoadAfter = loadAverage()
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "" where
// /proc/loadavg does not exist.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// quickNote marks a report or plot made with --quick.
const quickNote = "--quick: a smoke test; its counts are too small to judge the figures or the targets"

// find returns the result of one case on one system, or nil.
func (r *report) find(sys, kind, transport string, size int) *result {
	for i := range r.Results {
		x := &r.Results[i]
		if x.System == sys && x.Case == kind && x.Transport == transport && x.Size == size {
			return x
		}
	}
	return nil
}

// systems returns the systems with results, in the order of --systems.
func (r *report) systems() []string {
	var out []string
	for _, s := range r.Config.Systems {
		if _, skipped := r.Skipped[s]; !skipped {
			out = append(out, s)
		}
	}
	return out
}

func writeJSON(w io.Writer, r *report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func writeJSONFile(path string, r *report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeJSON(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func readJSONFile(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func skippedText(skipped map[string]string) string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(skipped)) {
		parts = append(parts, displayName(s)+": "+skipped[s])
	}
	return strings.Join(parts, "; ")
}

// column is one column of a table: its header and its cell for a case.
type column struct {
	head string
	cell func(transport string, size int) string
}

// writeTables prints the header, the latency table and the throughput
// table.
func writeTables(w io.Writer, r *report) error {
	fmt.Fprintf(w, "nanoact bench: %s %s/%s, %d CPUs (GOMAXPROCS %d), load average %s (before) %s (after), %.0f s\n",
		r.Go, r.OS, r.Arch, r.CPUs, r.GOMAXPROCS, orDash(r.LoadBefore), orDash(r.LoadAfter), r.Seconds)
	var vers []string
	for _, s := range r.Config.Systems {
		if v, ok := r.Versions[s]; ok {
			vers = append(vers, displayName(s)+" "+v)
		}
	}
	fmt.Fprintf(w, "%s; %d round trips after %d warm-up, up to %d messages per run, %d run(s), systems interleaved\n",
		strings.Join(vers, ", "), r.Config.Count, r.Config.Warmup, r.Config.Msgs, r.Config.Runs)
	for _, s := range slices.Sorted(maps.Keys(r.Skipped)) {
		fmt.Fprintf(w, "%s column skipped: %s\n", displayName(s), r.Skipped[s])
	}
	if r.Config.Quick {
		fmt.Fprintln(w, quickNote)
	}
	systems := r.systems()
	has := func(s string) bool { return slices.Contains(systems, s) }

	// Latency.
	fmt.Fprintln(w)
	fmt.Fprintln(w, "req/rep round trip, µs: median, p99 and mean over all runs (C NNG and R nanonext report their mean only); allocs per round trip, both ends")
	cols := []column{}
	for _, s := range systems {
		if meanOnly(s) {
			cols = append(cols, column{columnName(s) + ":mean", r.latCell(s, func(x *result) float64 { return x.MeanUS })})
			continue
		}
		cols = append(cols,
			column{s + ":med", r.latCell(s, func(x *result) float64 { return x.MedianUS })},
			column{"p99", r.latCell(s, func(x *result) float64 { return x.P99US })},
			column{"mean", r.latCell(s, func(x *result) float64 { return x.MeanUS })})
	}
	if has(sysNanoact) && has(sysMangos) {
		cols = append(cols, column{"nanoact/mangos", r.ratioCell(kindLat, sysMangos, func(x *result) float64 { return x.MedianUS })})
	}
	if has(sysNanoact) && has(sysNNG) {
		cols = append(cols, column{"nanoact/C(mean)", r.ratioCell(kindLat, sysNNG, func(x *result) float64 { return x.MeanUS })})
	}
	if has(sysNanoact) && has(sysR) {
		cols = append(cols, column{"nanoact/R(mean)", r.ratioCell(kindLat, sysR, func(x *result) float64 { return x.MeanUS })})
	}
	if has(sysNanoact) && has(sysFloor) {
		cols = append(cols, column{"nanoact/floor", r.ratioCell(kindLat, sysFloor, func(x *result) float64 { return x.MedianUS })})
	}
	cols = append(cols, r.allocCols(kindLat, systems)...)
	if has(sysNanoact) {
		cols = append(cols, r.targetColumn(kindLat))
	}
	if err := r.table(w, cols); err != nil {
		return err
	}
	r.writeMisses(w, kindLat)

	// Throughput.
	fmt.Fprintln(w)
	fmt.Fprintln(w, "push/pull throughput: msgs/s (median run) and MB/s (10^6 B); allocs per message, both ends")
	cols = cols[:0]
	for _, s := range systems {
		cols = append(cols,
			column{columnName(s) + ":msgs/s", r.thrCell(s, func(x *result) string { return rate(x.MsgsPerS) })},
			column{"MB/s", r.thrCell(s, func(x *result) string { return megabytes(x.MBPerS) })})
	}
	if has(sysNanoact) && has(sysMangos) {
		cols = append(cols, column{"nanoact/mangos", r.ratioCell(kindThr, sysMangos, func(x *result) float64 { return x.MsgsPerS })})
	}
	if has(sysNanoact) && has(sysNNG) {
		cols = append(cols, column{"nanoact/C", r.ratioCell(kindThr, sysNNG, func(x *result) float64 { return x.MsgsPerS })})
	}
	if has(sysNanoact) && has(sysR) {
		cols = append(cols, column{"nanoact/R", r.ratioCell(kindThr, sysR, func(x *result) float64 { return x.MsgsPerS })})
	}
	if has(sysNanoact) && has(sysFloor) {
		cols = append(cols, column{"nanoact/floor", r.ratioCell(kindThr, sysFloor, func(x *result) float64 { return x.MsgsPerS })})
	}
	cols = append(cols, r.allocCols(kindThr, systems)...)
	if has(sysNanoact) {
		cols = append(cols, r.targetColumn(kindThr))
	}
	if err := r.table(w, cols); err != nil {
		return err
	}
	r.writeMisses(w, kindThr)

	// Errors, in full.
	for _, x := range r.Results {
		if x.Err != "" {
			fmt.Fprintf(w, "error: %s %s %s %s: %s\n", displayName(x.System), x.Case, x.Transport, sizeName(x.Size), x.Err)
		}
	}
	return nil
}

func (r *report) table(w io.Writer, cols []column) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	heads := []string{"transport", "size"}
	for _, c := range cols {
		heads = append(heads, c.head)
	}
	fmt.Fprintln(tw, strings.Join(heads, "\t")+"\t")
	for _, tr := range r.Config.Transports {
		for _, size := range r.Config.Sizes {
			cells := []string{tr, sizeName(size)}
			for _, c := range cols {
				cells = append(cells, c.cell(tr, size))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
	}
	return tw.Flush()
}

func (r *report) latCell(sys string, v func(*result) float64) func(string, int) string {
	return func(tr string, size int) string {
		x := r.find(sys, kindLat, tr, size)
		if x == nil || x.Runs == 0 {
			return errCell(x)
		}
		return micros(v(x))
	}
}

func (r *report) thrCell(sys string, v func(*result) string) func(string, int) string {
	return func(tr string, size int) string {
		x := r.find(sys, kindThr, tr, size)
		if x == nil || x.Runs == 0 {
			return errCell(x)
		}
		return v(x)
	}
}

// ratioCell is nanoact's figure over peer's.
func (r *report) ratioCell(kind, peer string, v func(*result) float64) func(string, int) string {
	return func(tr string, size int) string {
		a, b := r.find(sysNanoact, kind, tr, size), r.find(peer, kind, tr, size)
		if a == nil || b == nil || a.Runs == 0 || b.Runs == 0 || v(b) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", v(a)/v(b))
	}
}

func (r *report) allocCols(kind string, systems []string) []column {
	var cols []column
	for _, s := range systems {
		if meanOnly(s) {
			continue
		}
		cols = append(cols, column{"allocs:" + s, func(tr string, size int) string {
			x := r.find(s, kind, tr, size)
			if x == nil || x.AllocsPerOp == nil {
				return "-"
			}
			return fmt.Sprintf("%.1f", *x.AllocsPerOp)
		}})
	}
	return cols
}

func errCell(x *result) string {
	if x != nil && x.Err != "" {
		return "error"
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// micros prints µs with three significant figures or so.
func micros(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// megabytes prints a MB/s figure with one decimal, or three significant
// digits below 0.1 (8 B messages on a loaded machine), so that a slow
// figure never reads as zero.
func megabytes(v float64) string {
	if v >= 0.1 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// rate prints a message rate: 812, 45.3k, 1.21M.
func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// The benchmark issue's targets for nanoact.
const (
	// Small messages (up to 1 KiB): against plain mangos in the same run.
	targetSmallMax     = 1 << 10
	targetSmallLatio   = 1.10 // round trip at most 1.1x mangos'
	targetSmallThratio = 1.00 // throughput at least mangos' (0.9x before the transport-speed issue)
	// 64 KiB and up: ahead of every peer measured in the same run, and
	targetLargeMin   = 64 << 10
	targetFloorRatio = 1.5  // tcp round trip within 1.5x the Go floor's (plain TCP ping-pong) measured in the same run
	targetTCPFloorUS = 31.5 // the floor measured on these machines, when the run has no floor column
	targetLargeMBps  = 1730 // throughput at least C NNG's 1.73 GB/s
	targetLargeThrMg = 1.5  // and at least 1.5x mangos' (the transport-speed issue)
)

// target says whether nanoact meets the target in one case: "ok",
// "MISS" with what missed, or "-" when there is no target or no figure.
func (r *report) target(kind, tr string, size int) (status, why string) {
	na := r.find(sysNanoact, kind, tr, size)
	if na == nil || na.Runs == 0 {
		return "-", ""
	}
	var miss []string
	switch {
	case size <= targetSmallMax:
		mg := r.find(sysMangos, kind, tr, size)
		if mg == nil || mg.Runs == 0 {
			return "-", ""
		}
		if kind == kindLat {
			if q := na.MedianUS / mg.MedianUS; q > targetSmallLatio {
				miss = append(miss, fmt.Sprintf("median round trip %.3fx mangos' (target <= %.2fx)", q, targetSmallLatio))
			}
		} else if q := na.MsgsPerS / mg.MsgsPerS; q < targetSmallThratio {
			miss = append(miss, fmt.Sprintf("throughput %.3fx mangos' (target >= %.2fx)", q, targetSmallThratio))
		}
	case size >= targetLargeMin:
		for _, peer := range []string{sysMangos, sysNNG} {
			p := r.find(peer, kind, tr, size)
			if p == nil || p.Runs == 0 {
				continue
			}
			switch {
			case kind == kindLat && peer == sysNNG && na.MeanUS > p.MeanUS:
				miss = append(miss, fmt.Sprintf("mean round trip %s µs, C NNG %s µs", micros(na.MeanUS), micros(p.MeanUS)))
			case kind == kindLat && peer != sysNNG && na.MedianUS > p.MedianUS:
				miss = append(miss, fmt.Sprintf("median round trip %s µs, %s %s µs", micros(na.MedianUS), displayName(peer), micros(p.MedianUS)))
			case kind == kindThr && na.MsgsPerS < p.MsgsPerS:
				miss = append(miss, fmt.Sprintf("%.0f MB/s, %s %.0f MB/s", na.MBPerS, displayName(peer), p.MBPerS))
			}
		}
		if kind == kindLat && tr == "tcp" {
			floor, from := targetTCPFloorUS, "measured on these machines"
			if f := r.find(sysFloor, kind, tr, size); f != nil && f.Runs > 0 {
				floor, from = f.MedianUS, "this run"
			}
			if na.MedianUS > targetFloorRatio*floor {
				miss = append(miss, fmt.Sprintf("median round trip %s µs over %.1fx the raw TCP floor (%s µs, %s)", micros(na.MedianUS), targetFloorRatio, micros(floor), from))
			}
		}
		if mg := r.find(sysMangos, kind, tr, size); kind == kindThr && mg != nil && mg.Runs > 0 && na.MsgsPerS < targetLargeThrMg*mg.MsgsPerS {
			miss = append(miss, fmt.Sprintf("throughput %.3fx mangos' (target >= %.1fx)", na.MsgsPerS/mg.MsgsPerS, targetLargeThrMg))
		}
		if kind == kindThr && na.MBPerS < targetLargeMBps {
			miss = append(miss, fmt.Sprintf("%.0f MB/s under the %d MB/s of C NNG's figure (1.73 GB/s)", na.MBPerS, targetLargeMBps))
		}
	default:
		return "-", ""
	}
	if len(miss) == 0 {
		return "ok", ""
	}
	return "MISS", strings.Join(miss, "; ")
}

// targetColumn is the "target" column of kind's table.
func (r *report) targetColumn(kind string) column {
	return column{"target", func(tr string, size int) string {
		status, _ := r.target(kind, tr, size)
		return status
	}}
}

// writeMisses lists why each MISS of kind's table missed.
func (r *report) writeMisses(w io.Writer, kind string) {
	for _, tr := range r.Config.Transports {
		for _, size := range r.Config.Sizes {
			if status, why := r.target(kind, tr, size); status == "MISS" {
				fmt.Fprintf(w, "  MISS %s %s: %s\n", tr, sizeName(size), why)
			}
		}
	}
}
