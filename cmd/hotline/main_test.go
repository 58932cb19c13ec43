package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// commands start servers and calls, and must stop them all.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
