package test

import (
	"testing"

	"github.com/nanoact/nanoact/internal/testkit"
)

// TestConformanceNngcat runs the conformance cases C NNG can take part in
// with nngcat as the peer (testkit.NngCases), over ipc, tcp, ws, tls+tcp
// and wss.
func TestConformanceNngcat(t *testing.T) { testkit.RunNngcatConformance(t) }
