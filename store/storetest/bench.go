package storetest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
)

// BenchLogCalls logs b.N calls in LogCalls batches of batch records from
// callers numbers distinct callers and reports calls/s.
func BenchLogCalls(b *testing.B, s store.Store, batch, callers int) {
	b.Helper()
	cats := []string{"technical", "sales", "billing", ""}
	recs := make([]store.CallRecord, 0, batch)
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		recs = recs[:0]
		for j := i; j < min(i+batch, b.N); j++ {
			r := rec(fmt.Sprintf("bench-%d-%d@host", start.UnixNano(), j), fmt.Sprintf("+849%08d", j%callers), cats[j%len(cats)])
			recs = append(recs, r)
		}
		if _, err := s.LogCalls(b.Context(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}

// Env1M is the variable that enables the 1,000,000-interaction benchmark
// (it takes minutes and a few hundred MB).
const Env1M = "HOTLINE_BENCH_1M"

// Skip1M skips unless HOTLINE_BENCH_1M=1.
func Skip1M(b *testing.B) {
	if os.Getenv(Env1M) != "1" {
		b.Skipf("set %s=1 to seed 1,000,000 interactions and measure the timeline", Env1M)
	}
}

// BenchTimeline measures Timeline for random customers among customers
// (ids 1..customers, already seeded): the first page of 50 and the page its
// cursor points to. It reports p50 and p99 in milliseconds.
func BenchTimeline(b *testing.B, s store.Store, customers int) {
	b.Helper()
	lat := make([]time.Duration, 0, 2*b.N)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		id := int64(1 + rng.IntN(customers))
		t0 := time.Now()
		page, next, err := s.Timeline(b.Context(), id, store.Page{Limit: 50})
		lat = append(lat, time.Since(t0))
		if err != nil || len(page) == 0 {
			b.Fatalf("timeline %d: %d rows, %v", id, len(page), err)
		}
		if next != "" {
			t0 = time.Now()
			if _, _, err := s.Timeline(b.Context(), id, store.Page{Limit: 50, Cursor: next}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchSearch seeds customers (LogCalls' batches for the bulk, numbers as
// names, plus named ones with emails and external ids through
// CreateCustomer) and measures one page of each kind of search: with the
// indexes each is a look-up, not a scan, so the time stays flat as the
// table grows.
// analyze, when not nil, runs after the seeding (PostgreSQL's ANALYZE: a
// server's autovacuum would have done it on a table this size).
func BenchSearch(b *testing.B, s store.Store, customers, named int, analyze func()) {
	b.Helper()
	recs := make([]store.CallRecord, 0, 1000)
	for i := 0; i < customers-named; i += 1000 {
		recs = recs[:0]
		for j := i; j < min(i+1000, customers-named); j++ {
			recs = append(recs, rec(fmt.Sprintf("seed-%d@host", j), fmt.Sprintf("+849%08d", j), "general"))
		}
		if _, err := s.LogCalls(b.Context(), recs); err != nil {
			b.Fatal(err)
		}
	}
	family := []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"}
	given := []string{"Văn An", "Thị Hương", "Đức Minh", "Quốc Bảo", "Thu Trang"}
	for i := range named {
		c := &store.Customer{Name: family[i%len(family)] + " " + given[i%len(given)] + fmt.Sprintf(" %d", i),
			Emails:      []string{fmt.Sprintf("user%d@example.vn", i)},
			Phones:      []string{fmt.Sprintf("+8491%07d", i)},
			ExternalIDs: []store.ExternalID{{Source: "zendesk", ID: fmt.Sprintf("z%d", i)}}}
		if err := s.CreateCustomer(b.Context(), c); err != nil {
			b.Fatal(err)
		}
	}
	if analyze != nil {
		analyze()
	}
	for _, q := range []struct{ name, q string }{
		{"phone", "091 000 0042"},
		{"email", "USER42@example.vn"},
		{"external_id", "zendesk:z42"},
		{"name_prefix", "nguyen"},
		{"name_words", "dang duc 22"},
		{"no_match", "zzzz"},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				cs, _, err := s.ListCustomers(b.Context(), store.CustomerFilter{Query: q.q}, store.Page{Limit: 50})
				if err != nil {
					b.Fatal(err)
				}
				if len(cs) == 0 && q.name != "no_match" {
					b.Fatalf("%s: nothing found", q.q)
				}
			}
		})
	}
}
