package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/phonetest"
)

// startTrunkLine is the customer's line behind a trunk (a phonetest.Phone):
// RTP on 32000-32498 (no other e2e test's range), a 660 Hz voice, and the
// INVITEs taken as plan says, in order (the last repeats).
func startTrunkLine(t *testing.T, plan ...phonetest.Action) *phonetest.Phone {
	t.Helper()
	line := phonetest.New(t, 32000, 32498, 660)
	line.Plan(plan...)
	return line
}

// within is a context that ends d from now (or with the test).
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
