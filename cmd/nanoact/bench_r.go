package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// rSource is the R benchmark script's file name in --c-dir.
const rSource = "nanonext_bench.R"

// rOptional ends every reason the R nanonext column is skipped: R is never
// required, not even under CI=true.
const rOptional = "the R nanonext column is optional (install R and the nanonext package to get it; see docs/benchmarks.md)"

// prepareR finds nanonext_bench.R and an Rscript that can load nanonext,
// and returns the R nanonext system: the script run per measurement by
// "Rscript --vanilla nanonext_bench.R", both ends in that R process (see
// the script). When R or nanonext is missing it returns a reason instead
// ("R nanonext column skipped: <reason>"). It runs Rscript once (about a
// second) to check that nanonext loads and to read its version.
func prepareR(ctx context.Context, cfg *benchConfig, urls *urlMaker) (*cSystem, string, string) {
	src, err := findBenchFile(cfg.cDir, rSource)
	if err != nil {
		return nil, "", err.Error() + "; " + rOptional
	}
	rscript, err := exec.LookPath(cfg.rscript)
	if err != nil {
		return nil, "", fmt.Sprintf("no Rscript %q (%v); set --rscript or $RSCRIPT; %s", cfg.rscript, errors.Unwrap(err), rOptional)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, rscript, "--vanilla", "-e",
		`suppressPackageStartupMessages(library(nanonext)); cat(as.character(utils::packageVersion("nanonext")))`).CombinedOutput()
	if err != nil {
		msg := firstError(out)
		if msg == "" {
			msg = err.Error()
		}
		return nil, "", fmt.Sprintf("%s cannot load nanonext: %s; %s", rscript, msg, rOptional)
	}
	ver := strings.TrimSpace(string(out))
	return &cSystem{sys: sysR, label: rSource, bin: rscript, pre: []string{"--vanilla", src}, buf: cfg.cBuf, timeout: cfg.timeout, urls: urls}, ver, ""
}
