package sockets_test

import (
	"strings"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// An unknown option name is told apart from a known option on the wrong
// object, and a near miss gets a suggestion.
func TestOptionErrorsExplain(t *testing.T) {
	t.Parallel()
	s := open(t, sockets.Req)
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"typo set", sockets.SetOption(s, "recv-timout", 10), []string{`unknown option "recv-timout"`, `did you mean "recv-timeout"`}},
		{"typo get", func() error { _, err := sockets.GetOption(s, "req:resend-tim"); return err }(), []string{`did you mean "req:resend-time"`}},
		{"far off", sockets.SetOption(s, "completely-unrelated", 1), []string{`unknown option "completely-unrelated"`, "OptionNames"}},
		{"wrong object", sockets.Set(s, sockets.SurveyTime, 0), []string{`"surveyor:survey-time" does not apply to a req socket`}},
		{"wrong object by name", sockets.SetOption(s, "sub:prefnew", true), []string{`"sub:prefnew" does not apply to a req socket`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.err, nanoact.ErrNotSupported)
			for _, w := range tc.want {
				if !strings.Contains(tc.err.Error(), w) {
					t.Fatalf("error %q lacks %q", tc.err, w)
				}
			}
		})
	}
	// A far-off name gets no suggestion.
	if err := sockets.SetOption(s, "xyz", 1); strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("suggestion for a name unlike any: %v", err)
	}
}
