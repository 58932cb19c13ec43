package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storetest"
)

func BenchmarkLogCalls(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.Schema(b)+os.Getenv("HOTLINE_BENCH_PG_PARAMS"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchLogCalls(b, s, 256, 5000)
}

// seed1M fills customers 1..10,000 and 1,000,000 interactions (100 per
// customer, all channels, a voice row for every fifth) server-side.
func seed1M(ctx context.Context, b *testing.B, url string) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	t0 := time.Now()
	for _, q := range []string{
		`INSERT INTO customers (id, name, tier, created_at, updated_at)
		 SELECT g, 'customer ' || g, 'standard', now(), now() FROM generate_series(1, 10000) g`,
		`INSERT INTO interactions (id, customer_id, channel, direction, started_at, summary, created_at)
		 SELECT g, 1 + g % 10000, (ARRAY['voice','email','chat','sms','social'])[1 + g % 5], 'inbound',
		        timestamptz '2025-01-01' + g * interval '17 seconds', 'seeded', now()
		 FROM generate_series(1, 1000000) g`,
		`INSERT INTO voice_calls (interaction_id, call_id, caller_number, outcome)
		 SELECT id, 'seed-' || id, '+84900000000', 'completed' FROM interactions WHERE channel = 'voice'`,
		`SELECT setval(pg_get_serial_sequence('customers', 'id'), 10000)`,
		`SELECT setval(pg_get_serial_sequence('interactions', 'id'), 1000000)`,
		`ANALYZE`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	b.Logf("seeded 1,000,000 interactions in %v", time.Since(t0).Round(time.Millisecond))
}

func BenchmarkTimeline1M(b *testing.B) {
	storetest.Skip1M(b)
	url := pgtest.Schema(b)
	s, err := postgres.Open(b.Context(), url, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seed1M(b.Context(), b, url)
	// A sub-benchmark, so the seeding runs once however often b.N is tried.
	b.Run("page50", func(b *testing.B) { storetest.BenchTimeline(b, s, 10000) })
}

// BenchmarkSearch100k: search over 100,000 customers (see docs/benchmarks.md).
func BenchmarkSearch100k(b *testing.B) {
	url := pgtest.Schema(b)
	s, err := postgres.Open(b.Context(), url, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchSearch(b, s, 100_000, 5_000, func() {
		c, err := pgx.Connect(b.Context(), url)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(b.Context())
		if _, err := c.Exec(b.Context(), `ANALYZE`); err != nil {
			b.Fatal(err)
		}
	})
}
