package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/sqlite"
	"github.com/hotline-dev/hotline/store/storetest"
)

func BenchmarkLogCalls(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchLogCalls(b, s, 256, 5000)
}
