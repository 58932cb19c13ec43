// Package testenv is what Hotline's tests need from the machine they run
// on: external programs (sipp, baresip) and capabilities (raw sockets,
// loopback addresses beyond 127.0.0.1). Without them a test skips, except
// under HOTLINE_REQUIRE_TOOLS=1 (CI, and the full suite), where a missing
// tool is a broken environment and fails the test: a suite that passes
// because its independent clients were never run proves nothing. Only
// tests import it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the variable that turns skips into failures.
const RequireEnv = "HOTLINE_REQUIRE_TOOLS"

// Required reports whether missing tools fail tests (HOTLINE_REQUIRE_TOOLS=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Tool returns the path of the program name, or skips the test (fails it
// under HOTLINE_REQUIRE_TOOLS=1) when it is not installed; install says
// how to get it ("Debian: apt-get install sip-tester").
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s not installed (%s): %v", name, install, err)
	}
	return p
}

// Unavailable skips the test because the machine lacks what it needs, or
// fails it under HOTLINE_REQUIRE_TOOLS=1.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=1: required)", msg, RequireEnv)
	}
	t.Skip(msg)
}
