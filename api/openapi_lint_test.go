package api

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/internal/testenv"
)

// TestOpenAPILint runs a real linter, Redocly CLI with the recommended
// ruleset (tools/openapi/redocly.yaml), over the document the server
// serves: no error and no warning pass. It uses tools/openapi's pinned
// install (.ci/run: npm install --prefix tools/openapi), then $HOTLINE_REDOCLY,
// then redocly on PATH; without any it skips (fails under
// HOTLINE_REQUIRE_TOOLS=1).
func TestOpenAPILint(t *testing.T) {
	spec, err := buildSpec()
	if err != nil {
		t.Fatal(err)
	}
	bin := redoclyPath(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(doc, spec, 0o600); err != nil {
		t.Fatal(err)
	}
	// The configuration and its ignore file sit next to the document: the
	// ignore file names the document by its path relative to itself.
	for _, name := range []string{"redocly.yaml", ".redocly.lint-ignore.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "tools", "openapi", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "redocly.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "lint", "--config", cfg, "--format", "stylish", doc)
	cmd.Dir = dir
	// No telemetry or update check from a test run.
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("%s lint:\n%s", bin, out.String())
	if err != nil {
		t.Fatalf("redocly lint: %v (the output above names each problem)", err)
	}
	// Exit status 0 still allows warnings; the contract is none. (The
	// output may carry other "warning"s, e.g. Node.js deprecation notices:
	// only stylish problem lines, "line:col  warning  rule", count.)
	if !bytes.Contains(out.Bytes(), []byte("validating openapi.json")) {
		t.Fatalf("redocly did not lint openapi.json")
	}
	if m := lintProblem.FindAll(out.Bytes(), -1); len(m) > 0 {
		t.Fatalf("redocly lint reports %d problems (above)", len(m))
	}
}

var lintProblem = regexp.MustCompile(`(?m)^\s*\d+:\d+\s+(warning|error)\s`)

func redoclyPath(t *testing.T) string {
	t.Helper()
	pinned, err := filepath.Abs(filepath.Join("..", "tools", "openapi", "node_modules", ".bin", "redocly"))
	if err == nil {
		if _, err := os.Stat(pinned); err == nil {
			return pinned
		}
	}
	if p := os.Getenv("HOTLINE_REDOCLY"); p != "" {
		return p
	}
	return testenv.Tool(t, "redocly", "npm install --prefix tools/openapi (Node.js and npm), or set HOTLINE_REDOCLY")
}
