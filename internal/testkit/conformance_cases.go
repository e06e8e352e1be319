package testkit

import (
	"testing"

	"github.com/nanoact/nanoact/sockets"
)

// ConfCase is one conformance case: Run checks one behaviour over the
// transport of the Link it is given.
type ConfCase struct {
	// Name is "<protocols>/<concern>/<what>", e.g. "req-rep/state/recv-before-send".
	Name string
	Run  func(t *testing.T, k *Link)
}

// RunConformance runs every case of ConfCases over every transport of
// ConfTransports, as subtests "<transport>/<case>"; the transports run in
// parallel, the cases of one transport one after the other. Call it from
// a test of a package whose TestMain checks for leaked goroutines.
func RunConformance(t *testing.T) {
	for _, tr := range ConfTransports() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			for _, c := range ConfCases() {
				t.Run(c.Name, func(t *testing.T) { c.Run(t, NewLink(t, tr)) })
			}
		})
	}
}

// ConfCases returns the conformance table, every case written against
// NNG 1.x's behaviour.
func ConfCases() []ConfCase {
	var cs []ConfCase
	cs = append(cs, stateCases()...)
	cs = append(cs, firstSendCases()...)
	cs = append(cs, resendCases()...)
	cs = append(cs, dropCases()...)
	cs = append(cs, closeCases()...)
	cs = append(cs, orderCases()...)
	cs = append(cs, rawCases()...)
	cs = append(cs, peerCases()...)
	return cs
}

// conn returns s itself, or a new context on s (closed at cleanup).
func conn(t *testing.T, s *sockets.Socket, onCtx bool) sockets.AsyncConn {
	t.Helper()
	if !onCtx {
		return s
	}
	c, err := s.Context()
	if err != nil {
		t.Fatalf("%s Context: %v", s.Protocol(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// where names a case's target, socket or context, in names and messages.
func where(onCtx bool) string {
	if onCtx {
		return "context"
	}
	return "socket"
}

// stat reads statistic name of s.
func stat(t *testing.T, s *sockets.Socket, name string) int64 {
	t.Helper()
	v, err := s.Stat(name)
	if err != nil {
		t.Fatalf("%s Stat(%q): %v", s.Protocol(), name, err)
	}
	return v
}
