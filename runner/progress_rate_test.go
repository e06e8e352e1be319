package runner_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/runner"
)

// Map's progress bar reports rates measured from the start of the map:
// its first line does not claim one task in the few µs since the first
// result (a first sample of tens of thousands of tasks/s for a map doing
// tens a second).
func TestProgressFirstRate(t *testing.T) {
	t.Parallel()
	reg := runner.NewRegistry()
	nap := runner.Register(reg, "nap", func(ctx context.Context, ms int) (int, error) {
		tm := time.NewTimer(time.Duration(ms) * time.Millisecond)
		defer tm.Stop()
		select {
		case <-tm.C:
			return ms, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	var bar strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := nap.Map(ctx, d, []int{40, 40, 40}, runner.ProgressTo(&bar)); err != nil {
		t.Fatal(err)
	}
	// One daemon, 40 ms a task: no honest rate exceeds 25 tasks/s by much.
	rates := regexp.MustCompile(`([0-9.]+) tasks/s`).FindAllStringSubmatch(bar.String(), -1)
	if len(rates) == 0 {
		t.Fatalf("no rate drawn: %q", bar.String())
	}
	for _, r := range rates {
		if v, _ := strconv.ParseFloat(r[1], 64); v > 200 {
			t.Errorf("rate %s tasks/s drawn for a map doing at most 25/s: %q", r[1], bar.String())
		}
	}
}
