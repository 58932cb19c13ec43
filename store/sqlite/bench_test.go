package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/internal/sqlcore"
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

// BenchmarkLogCallsBatch4 is the call log's writer at a production rate
// (~100 calls/s: a flush gathers a few records): the statements of a small
// batch are short enough to be kept prepared (stmts.go), unlike 256's.
func BenchmarkLogCallsBatch4(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchLogCalls(b, s, 4, 5000)
}

// BenchmarkTimeline1M seeds 10,000 customers and 1,000,000 interactions
// (HOTLINE_BENCH_1M=1) and measures Timeline.
func BenchmarkTimeline1M(b *testing.B) {
	storetest.Skip1M(b)
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	err = s.Conn().Tx(b.Context(), func(q sqlcore.Querier) error {
		for _, sql := range []string{
			`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
			 INSERT INTO customers (id, name, tier, attributes, created_at, updated_at)
			 SELECT n, 'customer ' || n, 'standard', '{}', 0, 0 FROM g`,
			`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000000)
			 INSERT INTO interactions (id, customer_id, channel, direction, started_at, summary, created_at)
			 SELECT n, 1 + n % 10000, CASE n % 5 WHEN 0 THEN 'voice' WHEN 1 THEN 'email' WHEN 2 THEN 'chat' WHEN 3 THEN 'sms' ELSE 'social' END,
			        'inbound', 1735689600000000 + n * 17000000, 'seeded', 0 FROM g`,
			`INSERT INTO voice_calls (interaction_id, call_id, caller_number, outcome)
			 SELECT id, 'seed-' || id, '+84900000000', 'completed' FROM interactions WHERE channel = 'voice'`,
			`ANALYZE`,
		} {
			if err := q.Exec(b.Context(), sql); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	b.Logf("seeded 1,000,000 interactions in %v", time.Since(t0).Round(time.Millisecond))
	b.Run("page50", func(b *testing.B) { storetest.BenchTimeline(b, s, 10000) })
}

// BenchmarkSearch100k: search over 100,000 customers (see docs/benchmarks.md).
func BenchmarkSearch100k(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchSearch(b, s, 100_000, 5_000, nil)
}
