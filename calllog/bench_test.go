package calllog

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// benchLogger pushes b.N calls through Log (the call path) and waits until
// the writer has committed them all; it reports end-to-end calls/s and the
// slowest Log call.
func benchLogger(b *testing.B, s store.Store) {
	l, err := New(s, Options{SpoolDir: b.TempDir(), QueueSize: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run(b.Context()) }()
	var worst time.Duration
	t0 := time.Now()
	b.ResetTimer()
	for i := range b.N {
		r := sample(fmt.Sprintf("bench-%d-%d", t0.UnixNano(), i))
		r.Voice.CallerNumber = fmt.Sprintf("+849%08d", i%5000)
		t := time.Now()
		if err := l.Log(r); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(t))
	}
	if err := l.WaitIdle(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "calls/s")
	b.ReportMetric(float64(worst.Microseconds()), "max-Log-µs")
	if err := l.Close(b.Context()); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

func BenchmarkLoggerSQLite(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "b.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchLogger(b, s)
}

func BenchmarkLoggerPostgres(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.Schema(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchLogger(b, s)
}
