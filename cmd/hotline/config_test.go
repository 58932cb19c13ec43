package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigMistakesStopEveryCommand: a configuration mistake is refused,
// with the field named, by `flows check` and by `serve` alike (one
// validation: config.Validate and app.CheckConfig), and an unset secret,
// which only the server needs, stops `serve` before it listens.
func TestConfigMistakesStopEveryCommand(t *testing.T) {
	t.Setenv("HOTLINE_DATABASE_URL", "")
	for _, tc := range []struct {
		file      string
		checkCode int    // hotline flows check --config file
		checkWant string // in its output
		serveWant string // in serve's stderr (serve must exit 1)
	}{
		{"bad-calendar.yaml", 1, `calendars.office.hours.tue: invalid calendar: "8am-5pm" is not HH:MM-HH:MM`, `calendars.office.hours.tue: invalid calendar`},
		{"bad-lookup-method.yaml", 1, `lookups.order-status.method: "FETCH" is not GET or POST`, `lookups.order-status.method: "FETCH"`},
		{"bad-database.yaml", 1, `database.url: "mysql://`, `database.url`},
		{"bad-allow.yaml", 1, `allow.numbers[1] (testdata/config/bad-allow.yaml:14): "1*"`, `allow.numbers[1]`},
		{"tokens-unset.yaml", 0, " 0 error(s)", "http.tokens[0].secret: env:HOTLINE_TEST_UNSET_TOKEN is not set in the environment"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "config", tc.file)
			var out, errb bytes.Buffer
			code := flowsCmd(t.Context(), []string{"check", "--config", path}, &out, &errb)
			if code != tc.checkCode || !strings.Contains(out.String()+errb.String(), tc.checkWant) {
				t.Errorf("flows check: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tc.checkCode, tc.checkWant, out.String(), errb.String())
			}
			out.Reset()
			errb.Reset()
			dir := t.TempDir()
			t.Setenv("HOTLINE_DATABASE_URL", "")
			if tc.file != "bad-database.yaml" {
				t.Setenv("HOTLINE_DATABASE_URL", "sqlite:"+filepath.Join(dir, "h.db"))
			}
			code = serveCmd(t.Context(), []string{"--config", path}, &out, &errb)
			if code != 1 || !strings.Contains(errb.String(), tc.serveWant) {
				t.Errorf("serve: exit %d, want 1 with %q\nstderr:\n%s", code, tc.serveWant, errb.String())
			}
		})
	}
}

// TestMigrateNeedsNoServerSecrets: migrations run where the API token
// variables are not exported.
func TestMigrateNeedsNoServerSecrets(t *testing.T) {
	t.Setenv("HOTLINE_DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "h.db"))
	var out, errb bytes.Buffer
	code := migrateCmd(t.Context(), []string{"up", "--config", filepath.Join("testdata", "config", "tokens-unset.yaml")}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "applied 0001") {
		t.Fatalf("migrate up: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}
