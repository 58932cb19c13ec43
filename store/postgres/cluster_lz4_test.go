package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Migration 0025: the view's and the statistics rows' bodies are
// compressed with lz4 where the server has it (the leader's commit
// compresses them; pglz took most of a view write's time).
func TestClusterBodiesLZ4(t *testing.T) {
	_, url := openCluster(t)
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	// pg_column_compression fails for a method the server was built
	// without: then the migration kept the default, and so must the columns.
	var lz4 bool
	if err := c.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"acd_view", "acd_recs"} {
		var method string
		if err := c.QueryRow(t.Context(), `SELECT attcompression::text FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'body'`, table).Scan(&method); err != nil {
			t.Fatal(err)
		}
		want := ""
		if lz4 {
			want = "l"
		}
		if method != want {
			t.Errorf("%s.body compression %q, want %q (server has lz4: %v)", table, method, want, lz4)
		}
	}
}
