package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// runCLI runs the command line args and returns its exit status, stdout
// and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// quick returns the smallest useful bench command line, --quick over
// inproc for 8 B, followed by extra.
func quick(extra ...string) []string {
	return append([]string{"bench", "--quick", "--transports", "inproc", "--sizes", "8"}, extra...)
}

func TestCommands(t *testing.T) {
	root := newRoot()
	cmd, _, err := root.Find([]string{"bench"})
	if err != nil || cmd.Name() != "bench" {
		t.Fatalf("root has no bench command: %v", err)
	}
	code, out, _ := runCLI(t, "--help")
	if code != 0 || !strings.Contains(out, "bench") {
		t.Fatalf("--help: exit %d, output %q", code, out)
	}
	code, out, _ = runCLI(t, "bench", "--help")
	if code != 0 || !strings.Contains(out, "--plot") {
		t.Fatalf("bench --help: exit %d, output %q", code, out)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown command":   {"frobnicate"},
		"unknown flag":      {"bench", "--frobnicate"},
		"bad size":          {"bench", "--sizes", "0"},
		"bad size unit":     {"bench", "--sizes", "8furlongs"},
		"unknown transport": {"bench", "--transports", "carrier-pigeon"},
		"unknown system":    {"bench", "--systems", "zeromq"},
		"zero count":        {"bench", "--count", "0"},
		"extra argument":    {"bench", "now"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stdout %q, stderr %q)", code, out, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}

// TestBenchQuick runs nanoact and mangos over inproc for 8 B and checks
// the tables, the JSON file and the PNG plot.
func TestBenchQuick(t *testing.T) {
	dir := t.TempDir()
	jsonPath, pngPath := filepath.Join(dir, "bench.json"), filepath.Join(dir, "bench.png")
	code, out, errOut := runCLI(t, quick("--systems", "nanoact,mangos", "--progress", "--json", jsonPath, "--plot", pngPath)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("stdout:\n%s", out)

	// Both tables, each with a row for inproc 8B whose figures are sane.
	tables := parseTables(t, out)
	if len(tables) != 2 {
		t.Fatalf("%d tables, want 2:\n%s", len(tables), out)
	}
	for i, want := range [][]string{
		{"nanoact:med", "p99", "mean", "mangos:med", "nanoact/mangos", "allocs:nanoact", "allocs:mangos", "target"},
		{"nanoact:msgs/s", "MB/s", "mangos:msgs/s", "nanoact/mangos", "allocs:nanoact", "allocs:mangos", "target"},
	} {
		tb := tables[i]
		for _, h := range want {
			if !slices.Contains(tb.head, h) {
				t.Errorf("table %d: no column %q in %q", i, h, tb.head)
			}
		}
		if len(tb.rows) != 1 || tb.rows[0][0] != "inproc" || tb.rows[0][1] != "8B" {
			t.Fatalf("table %d rows %q, want one for inproc 8B", i, tb.rows)
		}
		row := tb.rows[0]
		for j := 2; j < len(row); j++ {
			h := tb.head[j]
			if h == "target" {
				if row[j] != "ok" && row[j] != "MISS" {
					t.Errorf("table %d: target %q", i, row[j])
				}
				continue
			}
			v := parseCell(t, row[j])
			if v <= 0 && !(strings.HasPrefix(h, "allocs:") && v == 0) {
				t.Errorf("table %d: %s = %q, want a positive number", i, h, row[j])
			}
		}
	}
	if !strings.Contains(errOut, "lat inproc 8B") {
		t.Errorf("--progress: stderr %q shows no progress", errOut)
	}

	// JSON: every figure sane, and decoding and encoding again gives the
	// same document.
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := readJSONFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := writeJSON(&again, rep); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, again.Bytes()) {
		t.Errorf("JSON does not round-trip:\n%s\nvs\n%s", raw, again.Bytes())
	}
	if len(rep.Results) != 4 {
		t.Fatalf("%d results, want 4 (2 systems x lat, thr)", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Err != "" || r.Runs != 1 || r.Count <= 0 || r.AllocsPerOp == nil {
			t.Errorf("result %+v", r)
		}
		figs := []float64{r.MedianUS, r.P99US, r.MeanUS}
		if r.Case == kindThr {
			figs = []float64{r.MsgsPerS, r.MBPerS}
		}
		for _, v := range figs {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%s %s: figure %v in %+v", r.System, r.Case, v, r)
			}
		}
		if r.Case == kindLat && !(r.MedianUS <= r.P99US) {
			t.Errorf("%s: median %v above p99 %v", r.System, r.MedianUS, r.P99US)
		}
	}
	if rep.Versions[sysMangos] == "" || rep.GOMAXPROCS < 1 || rep.Config.Count != quickCount {
		t.Errorf("report header %+v", rep)
	}

	// The PNG.
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("plot is not a PNG: %v", err)
	}
	if cfg.Width < 400 || cfg.Height < 300 {
		t.Errorf("plot is %dx%d", cfg.Width, cfg.Height)
	}

	// The same report drawn as SVG and PDF.
	svgPath, pdfPath := filepath.Join(dir, "bench.svg"), filepath.Join(dir, "bench.pdf")
	if err := writePlot(svgPath, rep); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svgPath)
	if err := writePlot(pdfPath, rep); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(pdfPath); !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("plot is not a PDF")
	}
	if err := writePlot(filepath.Join(dir, "bench.bmp"), rep); err == nil {
		t.Errorf("plot to .bmp: no error")
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plot is not well-formed SVG: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("SVG root element %q", root)
	}
}

// TestBenchCSkipped checks that a C column that cannot be built is
// skipped with its reason while the Go systems run.
func TestBenchCSkipped(t *testing.T) {
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, cSource), []byte("#include <nng/no-such-header.h>\nint main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		why  string
	}{
		{"bogus source dir", []string{"--c-dir", filepath.Join(t.TempDir(), "no-such-dir")}, "nngbench.c not found"},
		{"relative bogus source dir", []string{"--c-dir", "no/such/dir"}, "nngbench.c not found"},
		// Its own source dir, so the test does not depend on the
		// repository's bench/nngbench.c.
		{"no compiler", []string{"--c-dir", broken, "--cc", filepath.Join(t.TempDir(), "no-such-cc")}, "no C compiler"},
		{"does not build", []string{"--c-dir", broken}, "does not build"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "does not build" {
				if _, err := exec.LookPath(envOr("CC", "cc")); err != nil {
					t.Skip("no C compiler on this machine")
				}
			}
			line, out, tables := skipRun(t, sysNNG, c.args...)
			if !strings.Contains(line, c.why) {
				t.Errorf("skip line %q, want it to say %q; stdout:\n%s", line, c.why, out)
			}
			if len(tables) != 2 || len(tables[0].rows) != 1 || slices.Contains(tables[0].head, "C-NNG:mean") {
				t.Errorf("tables %+v", tables)
			}
		})
	}

	t.Run("json to stdout", func(t *testing.T) {
		code, out, errOut := runCLI(t, quick("--systems", "nanoact,c", "--count", "50", "--msgs", "200",
			"--c-dir", "/no/such/dir", "--json", "-")...)
		if code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		var rep report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, out)
		}
		if !strings.Contains(rep.Skipped[sysNNG], "not found") || len(rep.Results) != 2 {
			t.Errorf("report %+v", rep)
		}
		if !strings.Contains(errOut, "C NNG column skipped: ") {
			t.Errorf("stderr %q: no skip note", errOut)
		}
	})
}

// TestBenchC runs the C NNG column where nngbench.c builds here.
func TestBenchC(t *testing.T) {
	if _, reason := prepareC(context.Background(), &benchConfig{cDir: "bench", cc: envOr("CC", "cc")}, t.TempDir(), nil); reason != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("C NNG column unavailable under CI=true (.ci/run installs libnng-dev): %s", reason)
		}
		t.Skipf("C NNG column unavailable: %s", reason)
	}
	out, rep := runJSON(t, quick("--systems", "c,nanoact")...)
	lat, thr := rep.find(sysNNG, kindLat, "inproc", 8), rep.find(sysNNG, kindThr, "inproc", 8)
	if lat == nil || thr == nil || !(lat.MeanUS > 0) || !(thr.MsgsPerS > 0) || lat.AllocsPerOp != nil || lat.MedianUS != 0 {
		t.Fatalf("C NNG results %+v %+v", lat, thr)
	}
	if !strings.HasPrefix(rep.Versions[sysNNG], "1.") {
		t.Errorf("C NNG version %q", rep.Versions[sysNNG])
	}
	tables := parseTables(t, out)
	if !slices.Contains(tables[0].head, "C-NNG:mean") || !slices.Contains(tables[0].head, "nanoact/C(mean)") {
		t.Errorf("latency table head %q", tables[0].head)
	}
}

// TestBenchFloor runs the Go floor beside nanoact on every transport and
// checks that each table shows nanoact's distance to it.
func TestBenchFloor(t *testing.T) {
	code, out, errOut := runCLI(t, "bench", "--quick", "--transports", "inproc,ipc,tcp", "--sizes", "8,1KiB", "--systems", "nanoact,floor", "--json", "-")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	for _, tr := range []string{"inproc", "ipc", "tcp"} {
		for _, size := range []int{8, 1024} {
			lat, thr := rep.find(sysFloor, kindLat, tr, size), rep.find(sysFloor, kindThr, tr, size)
			if lat == nil || thr == nil || lat.Err != "" || thr.Err != "" || !(lat.MedianUS > 0) || !(thr.MsgsPerS > 0) {
				t.Errorf("floor %s %d: %+v %+v", tr, size, lat, thr)
			}
		}
	}
	code, out, errOut = runCLI(t, quick("--systems", "nanoact,floor")...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	tables := parseTables(t, out)
	for i, tb := range tables {
		if !slices.Contains(tb.head, "nanoact/floor") {
			t.Errorf("table %d head %q: no nanoact/floor column", i, tb.head)
		}
	}
}

// TestPageOffset: the buffers the systems send from start pageLead bytes
// past a page boundary (not on it, where a send after a frame length is
// the kernel's slow 4K-aliased copy), with the length and capacity asked.
func TestPageOffset(t *testing.T) {
	for _, n := range []int{1, 8, 4096, 64 << 10} {
		b := pageOffset(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("pageOffset(%d): len %d cap %d", n, len(b), cap(b))
		}
		if off := uintptr(unsafe.Pointer(unsafe.SliceData(b))) % 4096; off != pageLead {
			t.Errorf("pageOffset(%d) starts %d bytes past a page, want %d", n, off, pageLead)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"8": 8, "8B": 8, "1KiB": 1024, "1k": 1024, "64KiB": 65536, " 2 kb ": 2048, "1MiB": 1 << 20} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		if in == "8" || in == "64KiB" {
			if name := sizeName(got); name != strings.TrimSpace(in) && name != in+"B" {
				t.Errorf("sizeName(%d) = %q", got, name)
			}
		}
	}
	for _, in := range []string{"", "0", "-8", "KiB", "8 furlongs", "65MiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

func TestAggregate(t *testing.T) {
	samples := make([]time.Duration, 100)
	for i := range samples {
		samples[i] = time.Duration(100-i) * time.Microsecond // 100..1 µs
	}
	one := 2.0
	r := aggregate(sysNanoact, benchCase{kind: kindLat, size: 8, count: 100}, []measurement{
		{samples: samples, mean: 50 * time.Microsecond, allocs: &one, bytes: &one},
	}, nil)
	if r.MedianUS != 50 || r.P99US != 99 || r.MeanUS != 50 || *r.AllocsPerOp != 2 {
		t.Errorf("latency aggregate %+v", r)
	}
	r = aggregate(sysNNG, benchCase{kind: kindThr, size: 1000, count: 10}, []measurement{
		{elapsed: time.Second, msgs: 30}, {elapsed: time.Second, msgs: 10}, {elapsed: time.Second, msgs: 20},
	}, nil)
	if r.MsgsPerS != 20 || r.MBPerS != 0.02 || r.AllocsPerOp != nil || len(r.PerRun) != 3 {
		t.Errorf("throughput aggregate %+v", r)
	}
}

func TestTargets(t *testing.T) {
	rep := &report{Config: reportConfig{Systems: []string{sysNanoact, sysMangos, sysNNG}}}
	add := func(sys, kind, tr string, size int, med, mean, mps float64) {
		rep.Results = append(rep.Results, result{System: sys, Case: kind, Transport: tr, Size: size, Runs: 1,
			MedianUS: med, MeanUS: mean, MsgsPerS: mps, MBPerS: mps * float64(size) / 1e6})
	}
	add(sysNanoact, kindLat, "tcp", 8, 10.9, 11, 0)
	add(sysMangos, kindLat, "tcp", 8, 10, 10, 0)
	add(sysNanoact, kindThr, "tcp", 8, 0, 0, 89)
	add(sysMangos, kindThr, "tcp", 8, 0, 0, 100)
	add(sysNanoact, kindLat, "tcp", 64<<10, 40, 41, 0)
	add(sysMangos, kindLat, "tcp", 64<<10, 45, 46, 0)
	add(sysNNG, kindLat, "tcp", 64<<10, 0, 40, 0)
	add(sysNanoact, kindThr, "ipc", 64<<10, 0, 0, 30000) // 1966 MB/s
	add(sysMangos, kindThr, "ipc", 64<<10, 0, 0, 20000)
	add(sysNanoact, kindThr, "tcp", 1<<10, 0, 0, 99)
	add(sysMangos, kindThr, "tcp", 1<<10, 0, 0, 100)
	add(sysNanoact, kindThr, "tcp", 64<<10, 0, 0, 28000) // 1835 MB/s
	add(sysMangos, kindThr, "tcp", 64<<10, 0, 0, 20000)
	for _, c := range []struct {
		kind, tr string
		size     int
		want     string
		why      string
	}{
		{kindLat, "tcp", 8, "ok", ""},
		{kindThr, "tcp", 8, "MISS", "0.890x"},
		{kindLat, "tcp", 64 << 10, "MISS", "C NNG 40.0 µs"},
		{kindThr, "ipc", 64 << 10, "ok", ""},
		{kindThr, "tcp", 1 << 10, "MISS", "0.990x mangos' (target >= 1.00x)"},
		{kindThr, "tcp", 64 << 10, "MISS", "1.400x mangos' (target >= 1.5x)"},
		{kindLat, "inproc", 8, "-", ""},
	} {
		got, why := rep.target(c.kind, c.tr, c.size)
		if got != c.want || !strings.Contains(why, c.why) {
			t.Errorf("target(%s %s %d) = %q, %q; want %q, %q", c.kind, c.tr, c.size, got, why, c.want, c.why)
		}
	}
}

// table is one printed table: its header and rows, split on blanks.
type table struct {
	head []string
	rows [][]string
}

func parseTables(t *testing.T, out string) []table {
	t.Helper()
	var tables []table
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) > 2 && f[0] == "transport":
			tables = append(tables, table{head: f})
		case len(tables) > 0 && len(f) == len(tables[len(tables)-1].head) && slices.Contains([]string{"inproc", "ipc", "tcp"}, f[0]):
			tables[len(tables)-1].rows = append(tables[len(tables)-1].rows, f)
		}
	}
	return tables
}

// parseCell reads a number as the tables print it: 4.22, 1.08x, 45.3k,
// 1.21M.
func parseCell(t *testing.T, s string) float64 {
	t.Helper()
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "x"):
		s = strings.TrimSuffix(s, "x")
	case strings.HasSuffix(s, "k"):
		s, mult = strings.TrimSuffix(s, "k"), 1e3
	case strings.HasSuffix(s, "M"):
		s, mult = strings.TrimSuffix(s, "M"), 1e6
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		t.Errorf("cell %q is not a finite number", s)
		return -1
	}
	return v * mult
}

// The plot shows each Go latency's p99 beside its median and says when
// the report came from --quick.
func TestPlotQuickAndP99(t *testing.T) {
	dir := t.TempDir()
	rep := &report{Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Go: "go1.x", OS: "linux", Arch: "amd64", CPUs: 2,
		Config: reportConfig{Sizes: []int{64}, Transports: []string{"inproc"}, Systems: []string{sysNanoact}, Runs: 1},
		Results: []result{
			{System: sysNanoact, Case: kindLat, Transport: "inproc", Size: 64, Runs: 1, MedianUS: 12.5, P99US: 987, MeanUS: 20},
			{System: sysNanoact, Case: kindThr, Transport: "inproc", Size: 64, Runs: 1, MsgsPerS: 1e6, MBPerS: 64},
		}}
	for _, quick := range []bool{false, true} {
		rep.Config.Quick = quick
		path := filepath.Join(dir, fmt.Sprintf("q%v.svg", quick))
		if err := writePlot(path, rep); err != nil {
			t.Fatal(err)
		}
		checkSVG(t, path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		svg := string(b)
		if !strings.Contains(svg, "p99 987") {
			t.Errorf("quick=%v: the plot lacks the p99 label", quick)
		}
		if got := strings.Contains(svg, "--quick"); got != quick {
			t.Errorf("quick=%v: the plot mentions --quick: %v", quick, got)
		}
	}
}

// A slow throughput never prints as zero MB/s (8 B messages at 2k msgs/s
// on a loaded machine are 0.016 MB/s).
func TestMegabytes(t *testing.T) {
	for v, want := range map[float64]string{1730.04: "1730.0", 0.1: "0.1", 0.0176: "0.0176", 0.000123: "0.000123"} {
		if got := megabytes(v); got != want {
			t.Errorf("megabytes(%v) = %q, want %q", v, got, want)
		}
	}
}
