package callback_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The scheduler starts goroutines (Run, one per call in flight); Close
// must stop them all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
