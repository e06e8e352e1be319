package runner_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/nanoact/nanoact/runner"
)

// Map draws a progress bar as results come in: Progress draws it on a
// terminal's standard error, ProgressTo on any writer (here a buffer, to
// show what was drawn: the task's name and the count done out of 5; a
// finished bar is cleared).
func ExampleProgressTo() {
	reg := runner.NewRegistry()
	square := runner.Register(reg, "square", func(_ context.Context, n int) (int, error) { return n * n, nil })
	d, err := runner.NewDispatcher("", runner.WithRegistry(reg))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	if _, err := d.StartDaemons(context.Background(), 2); err != nil {
		panic(err)
	}

	var bar strings.Builder
	out, err := square.Map(context.Background(), d, []int{1, 2, 3, 4, 5}, runner.ProgressTo(&bar))
	fmt.Println(out, err)
	drawn := bar.String()
	fmt.Println(strings.Contains(drawn, "square"), strings.Contains(drawn, "/5,"))
	// Output:
	// [1 4 9 16 25] <nil>
	// true true
}
