package calllog

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/sqlite"
)

// benchCallers is how many calls end at once: 300 calls/s of 3 minutes
// each keep about 900 up, and their ends are spread in time; 64 goroutines
// finishing back to back are a harder burst than that.
const benchCallers = 64

// benchLoad.rate, when > 0, paces call starts at this many per second (each
// call on its own goroutine, as the server runs them) instead of the
// benchCallers burst.
type benchLoad struct{ rate int }

// benchLogger runs b.N calls through the call path (Begin at answer,
// Finish at the end) from benchCallers goroutines and waits until the
// writer has committed them all. It reports end-to-end calls/s, the time
// Begin and Finish keep a call waiting (p50, p99) and fsyncs per call.
func benchLogger(b *testing.B, sink Sink, load benchLoad) {
	l, err := New(sink, Options{SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run(context.Background()) }()
	run := fmt.Sprint(time.Now().UnixNano())
	begins := make([]time.Duration, b.N)
	ends := make([]time.Duration, b.N)
	call := func(i int) {
		r := sample(fmt.Sprintf("bench-%s-%d", run, i))
		r.Voice.CallerNumber = fmt.Sprintf("+849%08d", i%5000)
		t := time.Now()
		m, err := l.Begin(r)
		if err != nil {
			b.Error(err)
			return
		}
		begins[i] = time.Since(t)
		t = time.Now()
		if err := l.Finish(m, r); err != nil {
			b.Error(err)
			return
		}
		ends[i] = time.Since(t)
	}
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	if load.rate > 0 {
		tick := time.NewTicker(time.Second / time.Duration(load.rate))
		for i := range b.N {
			<-tick.C
			wg.Go(func() { call(i) })
		}
		tick.Stop()
	} else {
		next := make(chan int, b.N)
		for i := range b.N {
			next <- i
		}
		close(next)
		for range benchCallers {
			wg.Go(func() {
				for i := range next {
					call(i)
				}
			})
		}
	}
	wg.Wait()
	if err := l.WaitIdle(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	st := l.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(st.Syncs)/float64(b.N), "fsyncs/call")
	slices.Sort(begins)
	slices.Sort(ends)
	pct := func(d []time.Duration, p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) }
	b.ReportMetric(pct(begins, 0.50), "Begin-p50-µs")
	b.ReportMetric(pct(begins, 0.99), "Begin-p99-µs")
	b.ReportMetric(pct(ends, 0.50), "Finish-p50-µs")
	b.ReportMetric(pct(ends, 0.99), "Finish-p99-µs")
	if err := l.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// nullSink commits instantly: the spool alone.
type nullSink struct{}

func (nullSink) LogCalls(_ context.Context, rs []store.CallRecord) ([]store.LogResult, error) {
	return make([]store.LogResult, len(rs)), nil
}

func BenchmarkLoggerSpool(b *testing.B) { benchLogger(b, nullSink{}, benchLoad{}) }

// BenchmarkLoggerSQLiteAt300 is the production rate: 300 calls/s, SQLite.
// It takes b.N/300 seconds.
func BenchmarkLoggerSQLiteAt300(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "b.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchLogger(b, s, benchLoad{rate: 300})
}

func BenchmarkLoggerSQLite(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "b.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchLogger(b, s, benchLoad{})
}

func BenchmarkLoggerPostgres(b *testing.B) {
	s, err := postgres.Open(b.Context(), pgtest.Schema(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchLogger(b, s, benchLoad{})
}
