package sockets

import (
	"errors"
	"fmt"

	"github.com/nanoact/nanoact"
)

// This file makes option errors say what went wrong: an unknown name, with
// the nearest known one, or a known option that does not apply to the
// object it was given to. Both carry ErrNotSupported, as NNG's
// NNG_ENOTSUP does.

// unknownOption is the error for a name no object has.
func unknownOption(set bool, name string) error {
	err := optErr(nanoact.CodeNotSupported, name, set).(*nanoact.Error)
	if near := nearestOption(name); near != "" {
		err.Err = fmt.Errorf("unknown option %q; did you mean %q?", name, near)
	} else {
		err.Err = fmt.Errorf("unknown option %q (OptionNames lists the known ones)", name)
	}
	return err
}

// explainOption adds to a bare ErrNotSupported from target's option
// method that the option exists but does not apply to target.
func explainOption(target Optioner, name string, err error) error {
	var e *nanoact.Error
	if err == nil || !errors.As(err, &e) || e.Code != nanoact.CodeNotSupported || e.Err != nil {
		return err
	}
	return &nanoact.Error{Code: e.Code, Op: e.Op, Err: fmt.Errorf("option %q does not apply to %s", name, describeTarget(target))}
}

func describeTarget(target Optioner) string {
	switch x := target.(type) {
	case *Socket:
		return "a " + x.proto.String() + " socket"
	case *Context:
		return "a " + x.s.proto.String() + " context"
	case *Dialer:
		return "a dialer (" + x.url + ")"
	case *Listener:
		return "a listener (" + x.url + ")"
	case *Stream:
		return "a stream (" + x.url + ")"
	}
	return fmt.Sprintf("%T", target)
}

// nearestOption returns the known option name closest to name by edit
// distance, if it is close enough to be a slip (at most 3 edits and under
// half the name); "" otherwise.
func nearestOption(name string) string {
	best, bestD := "", 4
	for _, n := range OptionNames() {
		if d := editDistance(name, n); d < bestD && 2*d < len(name) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
