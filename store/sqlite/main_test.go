package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// The pool and database/sql start goroutines; Close must stop them.
func TestMain(m *testing.M) {
	code := m.Run()
	if templateDir != "" {
		_ = os.RemoveAll(templateDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// The migrated empty database the conformance tests start from, made
// once: migrating a new file costs ~0.35 s under -race, and the suite opens
// one per subtest. A copy of it is exactly a fresh database (Open then
// finds nothing to migrate); migrating from scratch is still what the
// template's own Open does, and store/migrate tests the runner.
var (
	templateOnce sync.Once
	templateDir  string
	templatePath string
	templateErr  error
)

func template() (string, error) {
	templateOnce.Do(func() {
		dir := "/dev/shm"
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			dir = ""
		}
		if templateDir, templateErr = os.MkdirTemp(dir, "hotline-sqlite-template-"); templateErr != nil {
			return
		}
		templatePath = filepath.Join(templateDir, "template.db")
		s, err := sqlite.Open(context.Background(), templatePath, store.Options{DefaultCountry: "VN"})
		if err != nil {
			templateErr = err
			return
		}
		templateErr = s.Close() // the last connection's close checkpoints the WAL into the file
	})
	return templatePath, templateErr
}

// freshCopy is a new database file at path, a copy of the template.
func freshCopy(t *testing.T, path string) {
	t.Helper()
	src, err := template()
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(src + suffix)
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
