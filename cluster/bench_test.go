package cluster_test

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// benchRinger keeps the offers a node was told to ring, with when.
type benchRinger struct {
	mu     sync.Mutex
	offers []queue.Offer
	at     []time.Time
}

func (r *benchRinger) Ring(o queue.Offer) {
	r.mu.Lock()
	r.offers, r.at = append(r.offers, o), append(r.at, time.Now())
	r.mu.Unlock()
}
func (r *benchRinger) Cancel(queue.Offer, string) {}

func (r *benchRinger) take() ([]queue.Offer, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, at := r.offers, r.at
	r.offers, r.at = nil, nil
	return o, at
}

// benchCluster is two nodes on one schema with 1,000 agents on calls and
// 9,000 callers waiting (10,000 joined), spread over both nodes.
type benchCluster struct {
	b       *testing.B
	nodes   [2]*cluster.Node
	ringers [2]*benchRinger
	owner   map[string]int // call ID → node index
	calls   []string       // bridged calls
	joins   int
}

const benchAgents, benchCallers = 1000, 10000

func newBenchCluster(b *testing.B) *benchCluster {
	url := pgtest.Schema(b) + os.Getenv("BENCH_URL_EXTRA")
	var ags []config.Agent
	for i := range benchAgents {
		ags = append(ags, config.Agent{ID: fmt.Sprintf("a%04d", i), Queues: map[string]int{"q": i % 3}})
	}
	acd := queue.Config{Agents: ags, Queues: map[string]config.Queue{"q": {Strategy: config.StrategyLongestIdle,
		RingTimeout: time.Hour, MaxMisses: 1 << 30, MaxWait: 1000 * time.Hour, MaxLength: 1 << 30}}}
	bc := &benchCluster{b: b, owner: map[string]int{}}
	for i := range bc.nodes {
		db, err := postgres.OpenCluster(b.Context(), url)
		if err != nil {
			b.Fatal(err)
		}
		bc.ringers[i] = &benchRinger{}
		n, err := cluster.New(cluster.Config{ID: fmt.Sprintf("n%d", i+1), DB: db, ACD: acd, Ringer: bc.ringers[i],
			NodeExpiry: time.Hour}) // the bench sends no heartbeats
		if err != nil {
			b.Fatal(err)
		}
		if err := n.Register(b.Context()); err != nil {
			b.Fatal(err)
		}
		bc.nodes[i] = n
		b.Cleanup(func() { n.StepDown(); db.Close() })
	}
	bc.step() // node 1 leads
	if !bc.nodes[0].Leading() {
		b.Fatal("node 1 does not lead")
	}
	ctx := b.Context()
	bc.parallel(benchAgents, func(i int) error { return bc.nodes[i%2].SetState(ctx, ags[i].ID, "login", "") })
	bc.step()
	bc.joinN(benchCallers)
	offers := bc.offers()
	if len(offers) != benchAgents {
		b.Fatalf("%d offers for 1,000 free agents", len(offers))
	}
	bc.answer(offers)
	for _, o := range offers {
		bc.calls = append(bc.calls, o.CallID)
	}
	return bc
}

// step steps both nodes until neither has anything to do.
func (bc *benchCluster) step() {
	for {
		did := false
		for _, n := range bc.nodes {
			k, err := n.Step(bc.b.Context())
			if err != nil {
				bc.b.Fatal(err)
			}
			did = did || k
		}
		if !did {
			return
		}
	}
}

// parallel runs f(0..n-1) each on its own goroutine, as each call has
// its own in a node (so the nodes' group commit sees them together).
func (bc *benchCluster) parallel(n int, f func(i int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 512) // the setup's 10,000 joins: bounded
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		bc.b.Fatal(err)
	}
}

func (bc *benchCluster) joinN(k int) {
	tiers := []store.Tier{store.TierStandard, store.TierVIP, store.TierNew}
	ids := make([]string, k)
	for i := range ids {
		bc.joins++
		ids[i] = fmt.Sprintf("w%d", bc.joins)
		bc.owner[ids[i]] = bc.joins % 2
	}
	ctx := bc.b.Context()
	bc.parallel(k, func(i int) error {
		_, err := bc.nodes[bc.owner[ids[i]]].Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: ids[i], Queue: "q", Tier: tiers[i%3]}})
		return err
	})
	bc.step()
}

func (bc *benchCluster) offers() []queue.Offer {
	var all []queue.Offer
	for _, r := range bc.ringers {
		o, _ := r.take()
		all = append(all, o...)
	}
	return all
}

func (bc *benchCluster) answer(offers []queue.Offer) {
	ctx := bc.b.Context()
	bc.parallel(len(offers), func(i int) error { return bc.nodes[bc.owner[offers[i].CallID]].Answered(ctx, offers[i].ID) })
	bc.step()
}

// BenchmarkClusterDispatch measures the cluster's routing decisions with
// two nodes on one PostgreSQL, 1,000 agents on calls and 9,000 callers
// waiting (the queue.BenchmarkDispatch setup): one decision is an agent's
// call ending on the caller's node (a command), the leader choosing the
// next caller and committing the offer to the outbox of that caller's
// node, that node receiving it, the offer answered and a new caller
// joining to keep the queue full.
//
// serial: one decision at a time; free-to-offer-µs is from the hang-up
// command being written to the offer reaching the ringer of the caller's
// node (the latency a single node does not have). batch-N: N agents free
// at once (commands sent concurrently by both nodes), decided in one
// leader commit: the cluster's throughput.
func BenchmarkClusterDispatch(b *testing.B) {
	// Built once, in the parent: a sub-benchmark's function runs once per
	// b.N tried, and its cleanups (a schema's drop) after each.
	shared := newBenchCluster(b)
	fresh := func(b *testing.B) *benchCluster {
		shared.b = b
		if v, err := shared.nodes[0].Service().Queue("q"); err != nil || v.Waiting != benchCallers-benchAgents {
			b.Fatalf("queue view: %d waiting, %v; want %d", v.Waiting, err, benchCallers-benchAgents)
		}
		return shared
	}
	b.Run("serial", func(b *testing.B) {
		bc := fresh(b)
		ctx := b.Context()
		var lat []time.Duration
		b.ResetTimer()
		for i := range b.N {
			k := i % len(bc.calls)
			call := bc.calls[k]
			t0 := time.Now()
			if err := bc.nodes[bc.owner[call]].Hangup(ctx, call); err != nil {
				b.Fatal(err)
			}
			bc.step()
			var offers []queue.Offer
			for _, r := range bc.ringers {
				o, at := r.take()
				for j := range o {
					lat = append(lat, at[j].Sub(t0))
				}
				offers = append(offers, o...)
			}
			if len(offers) != 1 {
				b.Fatalf("%d offers after one agent freed", len(offers))
			}
			bc.answer(offers)
			bc.calls[k] = offers[0].CallID
			bc.joinN(1)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		report(b, lat)
	})
	for _, n := range []int{100, 500} {
		b.Run(fmt.Sprintf("batch-%d", n), func(b *testing.B) {
			bc := fresh(b)
			ctx := b.Context()
			var sending, deciding time.Duration
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(n, b.N-done)
				ks := make([]int, k)
				for j := range ks {
					ks[j] = (done + j) % len(bc.calls)
				}
				t0 := time.Now()
				bc.parallel(k, func(j int) error {
					call := bc.calls[ks[j]]
					return bc.nodes[bc.owner[call]].Hangup(ctx, call)
				})
				t1 := time.Now()
				bc.step()
				sending += t1.Sub(t0)
				deciding += time.Since(t1)
				offers := bc.offers()
				if len(offers) != k {
					b.Fatalf("%d offers after %d agents freed", len(offers), k)
				}
				bc.answer(offers)
				for j, o := range offers {
					bc.calls[ks[j]] = o.CallID
				}
				bc.joinN(k)
				done += k
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			// Of one op: the hang-ups' commands written (both nodes at
			// once), then the leader's batch and the nodes' outboxes.
			b.ReportMetric(float64(sending.Microseconds())/float64(b.N), "send-µs/op")
			b.ReportMetric(float64(deciding.Microseconds())/float64(b.N), "decide-deliver-µs/op")
		})
	}
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "free-to-offer-µs-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "free-to-offer-µs-p99")
}
