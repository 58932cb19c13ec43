package cluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Node.Run's goroutines (listener, heartbeats) and the pools must stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
