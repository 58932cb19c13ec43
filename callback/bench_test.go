package callback_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/callback"
	"github.com/hotline-dev/hotline/callback/callbacktest"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/storeopen"
	"github.com/hotline-dev/hotline/store/storetest"
)

const (
	benchPending = 100_000
	benchQueues  = 50
)

// stampDialer notes when each call reached it and ends it at once,
// unanswered (the callback goes back to waiting after its spacing: a
// claim and an outcome written per decision, as in production).
type stampDialer struct {
	mu  sync.Mutex
	got map[int64]time.Time
	ch  chan int64
}

func (d *stampDialer) Dial(_ context.Context, r callback.DialRequest, _ callback.Progress) callback.Result {
	d.mu.Lock()
	d.got[r.CallbackID] = time.Now()
	d.mu.Unlock()
	d.ch <- r.CallbackID
	return callback.Result{Result: store.AttemptNoAnswer, SIPStatus: 480}
}

// BenchmarkScheduler: 100,000 callbacks waiting across 50 queues, loaded at
// start; one op is one ACD decision "dial the head of queue q now": the
// claim transaction (conditional update, attempt row, its interaction and
// voice row on the ticket, committed) and the hand-over to the Dialer. It
// reports decisions per second and the latency from the decision to the
// Dialer being called (p50, p99), and how long the start's load took. The
// calls end unanswered at once, so their outcomes are written alongside.
//
//	go test -run '^$' -bench Scheduler -benchtime 3000x ./callback/
func BenchmarkScheduler(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		var url string
		if backend == "sqlite" {
			url = "sqlite:" + filepath.Join(b.TempDir(), "bench.db")
		} else {
			url = pgtest.Schema(b)
		}
		db, err := storeopen.Open(b.Context(), url, store.Options{DefaultCountry: "VN"})
		if err != nil {
			b.Fatal(err)
		}
		if err := storetest.SeedCallbacks(b.Context(), db, benchPending, benchQueues, time.Now()); err != nil {
			b.Fatal(err)
		}
		qs := map[string]config.Queue{}
		for i := range benchQueues {
			cb := config.QueueCallback{Enabled: true}
			qs[fmt.Sprintf("q%02d", i)] = config.Queue{Callback: cb.WithDefaults()}
		}
		acd := callbacktest.NewACD()
		var offered atomic.Int64
		loaded := make(chan struct{})
		acd.OnOffer = func(callback.Waiting) {
			if offered.Add(1) == benchPending {
				close(loaded)
			}
		}
		dialer := &stampDialer{got: map[int64]time.Time{}, ch: make(chan int64, 1)}
		s, err := callback.New(callback.Config{Store: db.(store.Callbacks), Queues: qs, ACD: acd, Dialer: dialer,
			Limits: config.Callbacks{PerNumber: -1, PerSource: -1, Total: -1}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		run := make(chan error, 1)
		go func() { run <- s.Run(context.Background()) }()
		<-s.Ready()
		boot := time.Since(start)
		<-loaded // every callback offered, in order
		b.Run(backend, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			begin := time.Now()
			for i := range b.N {
				q := fmt.Sprintf("q%02d", i%benchQueues)
				t0 := time.Now()
				w, ok, err := acd.DialHead(context.Background(), s, q, 1_000_000)
				if !ok || err != nil {
					b.Fatalf("dial head of %s: %v (line empty: %v)", q, err, !ok)
				}
				id := <-dialer.ch
				if id != w.ID {
					b.Fatalf("dialled %d, the head was %d", id, w.ID)
				}
				dialer.mu.Lock()
				lat = append(lat, dialer.got[id].Sub(t0))
				dialer.mu.Unlock()
			}
			elapsed := time.Since(begin)
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(boot.Milliseconds()), "boot-ms")
		})
		_ = s.Close()
		<-run
		_ = db.Close()
	}
}
