package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateCmd(t *testing.T) {
	t.Setenv("HOTLINE_DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "db", "h.db"))
	var out, errb bytes.Buffer
	if code := migrateCmd(t.Context(), []string{"status"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "pending") || !strings.Contains(out.String(), "1 pending") {
		t.Fatalf("status before up: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := migrateCmd(t.Context(), []string{"up"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "applied 0001 init") {
		t.Fatalf("up: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := migrateCmd(t.Context(), []string{"up"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("second up: %d %q", code, out.String())
	}
	out.Reset()
	if code := migrateCmd(t.Context(), []string{"status"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "0 pending") {
		t.Fatalf("status after up: %d %q", code, out.String())
	}
	if code := migrateCmd(t.Context(), []string{"sideways"}, &out, &errb); code != 2 {
		t.Fatalf("bad subcommand exit %d", code)
	}
	t.Setenv("HOTLINE_DATABASE_URL", "mysql://nope")
	errb.Reset()
	if code := migrateCmd(t.Context(), []string{"up"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "database.url") {
		t.Fatalf("bad url: %d %q", code, errb.String())
	}
}
