package httptoken_test

import (
	"testing"

	"github.com/nanoact/nanoact/internal/httptoken"
)

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"GET": true, "X-Custom_1": true, "!#$%&'*+-.^_`|~": true,
		"": false, "G T": false, "a:b": false, "é": false, "a\r": false, "(x)": false,
	} {
		if got := httptoken.Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}
