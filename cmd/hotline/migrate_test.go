package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/store/sqlite"
)

func TestMigrateCmd(t *testing.T) {
	t.Setenv("HOTLINE_DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "db", "h.db"))
	ms, err := sqlite.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := migrateCmd(t.Context(), []string{"status"}, &out, &errb); code != 0 || !strings.Contains(out.String(), fmt.Sprintf("%d pending", len(ms))) {
		t.Fatalf("status before up: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := migrateCmd(t.Context(), []string{"up"}, &out, &errb); code != 0 {
		t.Fatalf("up: %d %q %q", code, out.String(), errb.String())
	}
	for _, m := range ms {
		if want := fmt.Sprintf("applied %04d %s", m.Version, m.Name); !strings.Contains(out.String(), want) {
			t.Fatalf("up: %q lacks %q", out.String(), want)
		}
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
