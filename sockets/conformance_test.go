package sockets_test

import (
	"testing"

	"github.com/nanoact/nanoact/internal/testkit"
)

// TestConformance holds every protocol, over every transport, to NNG
// 1.x's behaviour: the table is testkit.ConfCases.
func TestConformance(t *testing.T) { testkit.RunConformance(t) }
