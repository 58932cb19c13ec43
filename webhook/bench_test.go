package webhook_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
	"github.com/hotline-dev/hotline/store/sqlite"
	"github.com/hotline-dev/hotline/webhook"
)

// benchReceiver notes when each event arrived.
type benchReceiver struct {
	mu   sync.Mutex
	at   map[string]time.Time
	want int
	all  chan struct{}
}

func (r *benchReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	_, _ = io.Copy(io.Discard, req.Body)
	id := req.Header.Get(webhook.HeaderEventID)
	r.mu.Lock()
	if _, ok := r.at[id]; !ok {
		r.at[id] = now
		if len(r.at) == r.want {
			close(r.all)
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// outboxStore is a backend: the ticket history and its outbox.
type outboxStore interface {
	store.Store
	store.Webhooks
}

// benchStores open a backend whose writes make their webhook deliveries
// through o.
func benchStores(b *testing.B) map[string]func(b *testing.B, o store.Outbox) outboxStore {
	return map[string]func(b *testing.B, o store.Outbox) outboxStore{
		"sqlite": func(b *testing.B, o store.Outbox) outboxStore {
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "h.db"), store.Options{DefaultCountry: "VN", Outbox: o})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
		"postgres": func(b *testing.B, o store.Outbox) outboxStore {
			s, err := postgres.Open(b.Context(), pgtest.Schema(b), store.Options{DefaultCountry: "VN", Outbox: o})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
}

// BenchmarkWebhookDelivery: b.N call records logged (LogCalls, which
// writes call.ended to the outbox in its transaction: the moment the
// call log writes the call's record) at a steady rate (-rate: records/s,
// one per transaction; 0 = all at once, 256 per transaction) to a local
// receiver on loopback, through the whole path
// (the record's transaction with its outbox row, claim, signed POST,
// outcome). Reports deliveries/s and the latency from the LogCall to the
// receiver (p50, p99, max).
func BenchmarkWebhookDelivery(b *testing.B) {
	for _, rate := range []int{0, 200} {
		for name, open := range benchStores(b) {
			b.Run(fmt.Sprintf("%s/rate=%d", name, rate), func(b *testing.B) { benchDelivery(b, open, rate) })
		}
	}
}

func benchDelivery(b *testing.B, open func(*testing.B, store.Outbox) outboxStore, rate int) {
	rc := &benchReceiver{at: map[string]time.Time{}, want: b.N, all: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	var db outboxStore
	s, err := webhook.New(webhook.Config{Store: func(context.Context) (store.Webhooks, error) { return db, nil },
		File:     map[string]config.Webhook{"desk": {URL: "http://" + ln.Addr().String() + "/", Secret: secret, Events: []string{"call.ended"}}},
		Delivery: config.WebhookDelivery{AllowNetworks: loopback}})
	if err != nil {
		b.Fatal(err)
	}
	db = open(b, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	sent := make([]time.Time, b.N)
	var tick *time.Ticker
	if rate > 0 {
		tick = time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
	}
	b.ResetTimer()
	t0 := time.Now()
	// At a rate, one record per LogCall; all at once, batches of 256 as
	// the call log writes a backlog (calllog.Options.BatchSize).
	batch := 1
	if rate == 0 {
		batch = 256
	}
	for lo := 0; lo < b.N; lo += batch {
		if tick != nil {
			<-tick.C
		}
		var rs []store.CallRecord
		for i := lo; i < min(lo+batch, b.N); i++ {
			sent[i] = time.Now()
			rs = append(rs, store.CallRecord{EndedAt: sent[i], Direction: "inbound", Voice: store.VoiceDetails{CallID: fmt.Sprintf("bench-%d", i),
				FromTag: "t", CallerNumber: "0903123456", Outcome: store.OutcomeCompleted}})
		}
		if _, err := db.LogCalls(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-rc.all:
	case <-time.After(5*time.Minute + time.Duration(b.N)*10*time.Millisecond):
		b.Fatalf("%d of %d delivered", len(rc.at), b.N)
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	lat := make([]time.Duration, 0, b.N)
	rc.mu.Lock()
	for i := range b.N {
		lat = append(lat, rc.at[fmt.Sprintf("call_%d_ended", i+1)].Sub(sent[i]))
	}
	rc.mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op")
}
