package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeRscript writes a shell script standing in for Rscript: "-e" (the
// nanonext check) prints loadOut and exits with loadCode; a script run
// prints one result line built from its arguments (rtt_us = SIZE, and
// msgs_per_s = COUNT), so the test sees what the harness passed.
func fakeRscript(t *testing.T, loadOut string, loadCode int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Rscript")
	sh := `#!/bin/sh
if [ "$2" = "-e" ]; then echo "` + loadOut + `"; exit ` + string(rune('0'+loadCode)) + `; fi
# $1 --vanilla, $2 the script, $3 mode, $4 URL, $5 SIZE, $6 COUNT
[ "$1" = "--vanilla" ] || { echo "want --vanilla first, got $1" >&2; exit 1; }
case "$2" in */nanonext_bench.R) ;; *) echo "bad script $2" >&2; exit 1;; esac
case "$3" in
lat) echo "system=nanonext ver=0.0.1 mode=lat url=$4 rtt_us=$5" ;;
thr) echo "system=nanonext ver=0.0.1 mode=thr url=$4 msgs_per_s=$6" ;;
esac
`
	if err := os.WriteFile(p, []byte(sh), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// skipRun runs a quick bench of nanoact and sys (a child-process system)
// with extra flags, which must succeed, and returns the line saying that
// sys's column was skipped ("" if none), the output and its tables.
func skipRun(t *testing.T, sys string, extra ...string) (string, string, []table) {
	t.Helper()
	args := append(quick("--systems", "nanoact,"+sys, "--count", "50", "--msgs", "200"), extra...)
	code, out, errOut := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	line := ""
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, displayName(sys)+" column skipped: ") {
			line = l
		}
	}
	return line, out, parseTables(t, out)
}

// runJSON runs the bench command line args with --json to a file, which
// must succeed, and returns the tables printed and the report read back.
func runJSON(t *testing.T, args ...string) (string, *report) {
	t.Helper()
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	code, out, errOut := runCLI(t, append(args, "--json", jsonPath)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("stdout:\n%s", out)
	rep, err := readJSONFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	return out, rep
}

// TestBenchRSkipped checks that the R nanonext column, when it cannot
// run, is skipped with its reason and a note that it is optional, while
// the Go systems run.
func TestBenchRSkipped(t *testing.T) {
	noR := fakeRscript(t, "Error in library(nanonext) : there is no package called 'nanonext'", 1)
	cases := []struct {
		name string
		args []string
		why  string
	}{
		{"no Rscript", []string{"--rscript", filepath.Join(t.TempDir(), "no-such-Rscript")}, "no Rscript"},
		{"no nanonext", []string{"--rscript", noR}, "cannot load nanonext: Error in library(nanonext)"},
		{"no script", []string{"--rscript", noR, "--c-dir", filepath.Join(t.TempDir(), "no-such-dir")}, "nanonext_bench.R not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line, out, tables := skipRun(t, sysR, c.args...)
			if !strings.Contains(line, c.why) || !strings.Contains(line, "optional") {
				t.Errorf("skip line %q, want it to say %q and that R is optional; stdout:\n%s", line, c.why, out)
			}
			if len(tables) != 2 || len(tables[0].rows) != 1 || slices.Contains(tables[0].head, "R-nanonext:mean") {
				t.Errorf("tables %+v", tables)
			}
		})
	}
}

// TestBenchRPlumbing runs the R column against a stand-in Rscript (no R
// needed) and checks what the harness passes to the script and how it
// reads the result line: the round trip is the SIZE passed and the rate
// the COUNT passed (one more than the timed messages).
func TestBenchRPlumbing(t *testing.T) {
	fake := fakeRscript(t, "0.0.1", 0)
	out, rep := runJSON(t, "bench", "--quick", "--transports", "ipc,tcp", "--sizes", "8", "--msgs", "1500",
		"--systems", "r,nanoact", "--rscript", fake)
	if rep.Versions[sysR] != "0.0.1" {
		t.Errorf("R nanonext version %q", rep.Versions[sysR])
	}
	for _, tr := range []string{"ipc", "tcp"} {
		lat, thr := rep.find(sysR, kindLat, tr, 8), rep.find(sysR, kindThr, tr, 8)
		if lat == nil || thr == nil || lat.MeanUS != 8 || lat.MedianUS != 0 || lat.AllocsPerOp != nil || math.Abs(thr.MsgsPerS-1501) > 0.01 {
			t.Errorf("%s: R results %+v %+v", tr, lat, thr)
		}
	}
	tables := parseTables(t, out)
	if len(tables) != 2 {
		t.Fatalf("tables %+v", tables)
	}
	for i, want := range [][]string{{"R-nanonext:mean", "nanoact/R(mean)"}, {"R-nanonext:msgs/s", "nanoact/R"}} {
		for _, w := range want {
			if !slices.Contains(tables[i].head, w) {
				t.Errorf("table %d head %q lacks %q", i, tables[i].head, w)
			}
		}
		if slices.Contains(tables[i].head, "allocs:nanonext") {
			t.Errorf("table %d head %q has an allocation column for R", i, tables[i].head)
		}
	}
}

// TestBenchR runs the R nanonext column for real, one small case over ipc
// and tcp, where Rscript and the nanonext package are installed; it skips
// otherwise, under CI=true too (R is optional; .ci/run does not install it).
func TestBenchR(t *testing.T) {
	cfg := &benchConfig{cDir: "bench", rscript: envOr("RSCRIPT", "Rscript")}
	if _, _, reason := prepareR(context.Background(), cfg, nil); reason != "" {
		t.Skipf("R nanonext column unavailable (optional, also under CI=true): %s", reason)
	}
	_, rep := runJSON(t, "bench", "--quick", "--transports", "ipc,tcp", "--sizes", "8", "--systems", "r,nanoact")
	for _, tr := range []string{"ipc", "tcp"} {
		lat, thr := rep.find(sysR, kindLat, tr, 8), rep.find(sysR, kindThr, tr, 8)
		if lat == nil || thr == nil || lat.Err != "" || thr.Err != "" || !(lat.MeanUS > 0) || !(thr.MsgsPerS > 0) || !(thr.MBPerS > 0) {
			t.Errorf("%s: R nanonext results %+v %+v", tr, lat, thr)
		}
	}
	if v := rep.Versions[sysR]; v == "" || !strings.Contains(v, ".") {
		t.Errorf("R nanonext version %q", v)
	}
}
