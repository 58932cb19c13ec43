package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateFlows = flag.Bool("update-flows", false, "rewrite testdata/flows/golden/*.golden")

const flowsCfg = "testdata/flows/hotline.yaml"

// TestFlowsCmdGolden runs `hotline flows ...` in-process and compares
// stdout, stderr and the exit status with testdata/flows/golden.
func TestFlowsCmdGolden(t *testing.T) {
	monday := "--at=2026-11-23T10:00:00+07:00"
	sim := func(extra ...string) []string {
		return append([]string{"simulate", "testdata/flows/good/selfservice.yaml", "--config", flowsCfg, monday}, extra...)
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"check-good", []string{"check", "--config", flowsCfg}, 0},
		{"check-bad", []string{"check", "--config", flowsCfg, "testdata/flows/bad"}, 1},
		{"check-missing-dir", []string{"check", "--config", flowsCfg, "testdata/flows/absent"}, 1},
		{"simulate-lookup-answers", sim("--digits", "2,12345678#,1", "--lookup", "order-status=testdata/flows/answers/shipped.json", "--caller", "+84901234567"), 0},
		{"simulate-vietnamese-fallback", sim("--digits", "1,2,99#,1234567,1", "--lookup", "order-status=testdata/flows/answers/lost.json"), 0},
		{"simulate-missing-field", sim("--digits", "2,123456,1", "--lookup", "order-status=testdata/flows/answers/nocity.json"), 0},
		{"simulate-lookup-fails", sim("--digits", "2,123456,1", "--lookup-fail", "order-status"), 0},
		{"simulate-no-answer-given", sim("--digits", "2,123456,1"), 0},
		{"simulate-timeouts-exhaust", sim("--digits", "-"), 0},
		{"simulate-confirm-retry", sim("--digits", "2,123456,2,654321,1,extra", "--lookup-fail", "order-status"), 0},
		{"simulate-start-in-vietnamese", sim("--lang", "vi", "--digits", "0"), 0},
		{"simulate-holiday", []string{"simulate", "testdata/flows/good/selfservice.yaml", "--config", flowsCfg, "--at", "2026-12-25T10:00:00+07:00"}, 0},
		{"simulate-after-hours-utc", []string{"simulate", "--config", flowsCfg, "--at", "2026-11-23T11:00:00Z", "testdata/flows/good/selfservice.yaml"}, 0},
		{"simulate-broken-flow", []string{"simulate", "testdata/flows/bad/broken.yaml", "--config", flowsCfg}, 1},
		{"simulate-bad-at", sim("--at", "tomorrow"), 2},
		{"simulate-bad-lang", sim("--lang", "th"), 1},
		{"simulate-no-file", []string{"simulate"}, 2},
		// A Thai-only flow against the shipped prompts: Thai fragments and texts.
		{"check-thai", []string{"check", "--config", flowsCfg, "--prompts", "../../prompts", "testdata/flows/thai"}, 0},
		{"simulate-thai", []string{"simulate", "testdata/flows/thai/thai.yaml", "--config", flowsCfg, "--prompts", "../../prompts", monday,
			"--digits", "123456#,1", "--lookup", "order-status=testdata/flows/answers/thai.json"}, 0},
		{"unknown-subcommand", []string{"lint"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := flowsCmd(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			got := stdout.String() + "--- stderr\n" + stderr.String()
			path := filepath.Join("testdata", "flows", "golden", tt.name+".golden")
			if *updateFlows {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFlowsCmdGolden -update-flows)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}

// TestShippedFlowPassesTheChecker keeps etc/flows/support.yaml, the built-in
// default configuration and the shipped prompts in step.
func TestShippedFlowPassesTheChecker(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := flowsCmd(t.Context(), []string{"check", "--prompts", "../../prompts", "../../etc/flows"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), " 0 error(s)") || stderr.Len() != 0 {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}
