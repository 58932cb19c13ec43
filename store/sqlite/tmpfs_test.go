package sqlite_test

import (
	"os"
	"testing"
)

// dbDir is a fresh directory for a test's database, removed when the test
// ends. On Linux it is on tmpfs (/dev/shm) when there is one: the store
// still runs with synchronous(FULL), as in production, but a commit's
// fsync costs nothing there, and what these tests check (the SQL, the
// order, the concurrency) does not depend on the disk. The suite took
// ~480 s under -race on a loaded machine with the directories on disk,
// mostly fsyncs of TestSyncTenThousand's 10,000 commits. The tests that
// are about the file (outage_test.go: another process locking it) keep
// t.TempDir.
func dbDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "hotline-sqlite-test-")
		if err == nil {
			t.Cleanup(func() {
				if err := os.RemoveAll(dir); err != nil {
					t.Errorf("remove %s: %v", dir, err)
				}
			})
			return dir
		}
	}
	return t.TempDir()
}
