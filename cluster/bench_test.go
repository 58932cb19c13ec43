package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hotline-dev/hotline/cluster"
	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/queue"
	"github.com/hotline-dev/hotline/store"
	"github.com/hotline-dev/hotline/store/postgres"
	"github.com/hotline-dev/hotline/store/postgres/pgtest"
)

// benchRinger keeps the offers a node was told to ring, with when; with
// auto set (the run-N cases), it hands each offer to auto instead.
type benchRinger struct {
	mu     sync.Mutex
	offers []queue.Offer
	at     []time.Time
	auto   func(o queue.Offer, at time.Time)
}

func (r *benchRinger) Ring(o queue.Offer) {
	now := time.Now()
	r.mu.Lock()
	auto := r.auto
	if auto == nil {
		r.offers, r.at = append(r.offers, o), append(r.at, now)
	}
	r.mu.Unlock()
	if auto != nil {
		auto(o, now)
	}
}
func (r *benchRinger) Cancel(queue.Offer, string) {}

func (r *benchRinger) take() ([]queue.Offer, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, at := r.offers, r.at
	r.offers, r.at = nil, nil
	return o, at
}

func (r *benchRinger) setAuto(f func(queue.Offer, time.Time)) {
	r.mu.Lock()
	r.auto = f
	r.mu.Unlock()
}

// benchCluster is two nodes on one schema with 1,000 agents on calls and
// 9,000 callers waiting (10,000 joined), spread over both nodes.
type benchCluster struct {
	b       *testing.B
	nodes   [2]*cluster.Node
	ringers [2]*benchRinger
	calls   []string // bridged calls
	// leaders is how many nodes lead (Leading hooks, on the nodes' Step
	// goroutines); leading is poked at each change (whoever waits reads
	// leaders again: a poke is a wake-up, never a count).
	leaders atomic.Int32
	leading chan struct{}
	url     string

	mu     sync.Mutex
	owner  map[string]int            // call ID → node index
	places map[string]*cluster.Place // callers not answered yet
	agent  map[string]string         // bridged call → agent
	joins  int
}

const benchAgents, benchCallers = 1000, 10000

var benchTiers = []store.Tier{store.TierStandard, store.TierVIP, store.TierNew}

func benchACD() ([]config.Agent, queue.Config) {
	var ags []config.Agent
	for i := range benchAgents {
		ags = append(ags, config.Agent{ID: fmt.Sprintf("a%04d", i), Queues: map[string]int{"q": i % 3}})
	}
	return ags, queue.Config{Agents: ags, Queues: map[string]config.Queue{"q": {Strategy: config.StrategyLongestIdle,
		RingTimeout: time.Hour, MaxMisses: 1 << 30, MaxWait: 1000 * time.Hour, MaxLength: 1 << 30}}}
}

func newBenchCluster(b *testing.B) *benchCluster {
	url := pgtest.Schema(b) + os.Getenv("BENCH_URL_EXTRA")
	ags, acd := benchACD()
	bc := &benchCluster{b: b, url: url, owner: map[string]int{}, places: map[string]*cluster.Place{}, agent: map[string]string{},
		leading: make(chan struct{}, 1)}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("BENCH_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	for i := range bc.nodes {
		db, err := postgres.OpenCluster(b.Context(), url)
		if err != nil {
			b.Fatal(err)
		}
		bc.ringers[i] = &benchRinger{}
		n, err := cluster.New(cluster.Config{ID: fmt.Sprintf("n%d", i+1), DB: db, ACD: acd, Ringer: bc.ringers[i],
			Logger:     log,
			NodeExpiry: time.Hour, // the stepped cases send no heartbeats
			Leading: func(on bool) {
				if on {
					bc.leaders.Add(1)
				} else {
					bc.leaders.Add(-1)
				}
				select { // never blocks the node's Step
				case bc.leading <- struct{}{}:
				default:
				}
			}})
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

// awaitLeader waits until a node leads. Whether one does is read from the
// Leading hooks (Node.Leading is for the node's own Step goroutine, and
// Run's is another).
func (bc *benchCluster) awaitLeader(b *testing.B) {
	began := time.Now()
	limit := time.After(2 * time.Minute) // never, not slow
	for bc.leaders.Load() == 0 {
		select {
		case <-bc.leading:
		case <-limit:
			dumpDB(b, bc.url)
			b.Fatalf("no leader within %s", time.Since(began).Round(time.Millisecond))
		}
	}
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

func (bc *benchCluster) nodeOf(call string) *cluster.Node {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	return bc.nodes[bc.owner[call]]
}

// join sends one new caller's Join from its node (spread over both).
func (bc *benchCluster) join(ctx context.Context) (string, *cluster.Place, error) {
	bc.mu.Lock()
	bc.joins++
	id := fmt.Sprintf("w%d", bc.joins)
	bc.owner[id] = bc.joins % 2
	n, tier := bc.nodes[bc.joins%2], benchTiers[bc.joins%3]
	bc.mu.Unlock()
	p, err := n.Join(ctx, cluster.JoinRequest{JoinRequest: queue.JoinRequest{CallID: id, Queue: "q", Tier: tier}})
	if err != nil {
		return "", nil, err
	}
	bc.mu.Lock()
	bc.places[id] = p
	bc.mu.Unlock()
	return id, p, nil
}

func (bc *benchCluster) joinN(k int) {
	ctx := bc.b.Context()
	bc.parallel(k, func(int) error { _, _, err := bc.join(ctx); return err })
	bc.step()
}

// hangup ends a bridged call on its node: its agent is free.
func (bc *benchCluster) hangup(ctx context.Context, call string) error {
	bc.mu.Lock()
	n := bc.nodes[bc.owner[call]]
	delete(bc.agent, call)
	bc.mu.Unlock()
	return n.Hangup(ctx, call)
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
	bc.parallel(len(offers), func(i int) error { return bc.nodeOf(offers[i].CallID).Answered(ctx, offers[i].ID) })
	bc.step()
	bc.mu.Lock()
	for _, o := range offers {
		bc.agent[o.CallID] = o.Agent
		delete(bc.places, o.CallID)
	}
	bc.mu.Unlock()
}

// BenchmarkClusterDispatch measures the cluster's routing decisions with
// two nodes on one PostgreSQL, 1,000 agents on calls and 9,000 callers
// waiting (the queue.BenchmarkDispatch setup): one decision is an agent's
// call ending on the caller's node (a command), the leader choosing the
// next caller and committing the offer to the outbox of that caller's
// node, that node receiving it, the offer answered and a new caller
// joining to keep the queue full.
//
// serial: one decision at a time, the test stepping the nodes;
// free-to-offer-µs is from the hang-up command being written to the offer
// reaching the ringer of the caller's node. batch-N: N agents free at
// once (commands sent concurrently by both nodes), decided in one leader
// commit, each phase (hang-ups, answers, joins) waiting for the last.
// run-N: both nodes under Node.Run (notifications, as deployed), N agents'
// calls ending as soon as they are bridged, without end: run-1 is one
// decision at a time (the latency from "agent free" to "INVITE sent"),
// run-1000 the sustained rate. single-node: the same decisions on one
// queue.Service in process, with the same latency metric.
func BenchmarkClusterDispatch(b *testing.B) {
	b.Run("single-node", benchSingleNode)
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
			if err := bc.hangup(ctx, call); err != nil {
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
					return bc.hangup(ctx, call)
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
	// Last: they leave no node leading (Run steps down when it returns).
	for _, n := range []int{1, benchAgents} {
		b.Run(fmt.Sprintf("run-%d", n), func(b *testing.B) { shared.b = b; shared.run(b, n) })
	}
}

// run is the run-N case: both nodes under Node.Run, conc agents' calls
// ending as soon as they are bridged, b.N decisions in all. An offer is
// answered at once, the caller's outcome (answered) makes that call the
// next to end, and a new caller joins in its place. It returns with the
// cluster as it found it: 1,000 calls bridged, 9,000 callers waiting.
func (bc *benchCluster) run(b *testing.B, conc int) {
	ctx, cancel := context.WithCancel(b.Context())
	var (
		mu       sync.Mutex
		freed    = map[string]time.Time{} // agent → when its call was hung up
		lat      []time.Duration
		issued   int // hang-ups sent
		bridged  int // callers answered since the start
		settled  = make(chan struct{})
		failed   = make(chan error, 1)
		watchers sync.WaitGroup
		stop     = make(chan struct{})
	)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	for i, r := range bc.ringers {
		n := bc.nodes[i]
		r.setAuto(func(o queue.Offer, at time.Time) {
			mu.Lock()
			if t, ok := freed[o.Agent]; ok {
				lat = append(lat, at.Sub(t))
				delete(freed, o.Agent)
			}
			mu.Unlock()
			watchers.Add(1)
			go func() {
				defer watchers.Done()
				if err := n.Answered(ctx, o.ID); err != nil && ctx.Err() == nil {
					fail(err)
				}
			}()
		})
	}
	hangup := func(call string) {
		bc.mu.Lock()
		agent := bc.agent[call]
		bc.mu.Unlock()
		mu.Lock()
		freed[agent] = time.Now()
		mu.Unlock()
		if err := bc.hangup(ctx, call); err != nil && ctx.Err() == nil {
			fail(err)
		}
	}
	var watch func(id string, p *cluster.Place)
	watch = func(id string, p *cluster.Place) {
		defer watchers.Done()
		select {
		case <-p.Done():
		case <-stop:
			return
		}
		out := p.Outcome()
		if out.Reason != queue.ReasonAnswered {
			fail(fmt.Errorf("caller %s: outcome %+v", id, out))
			return
		}
		bc.mu.Lock()
		bc.agent[id] = out.Agent
		delete(bc.places, id)
		bc.mu.Unlock()
		nid, np, err := bc.join(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fail(err)
			}
			return
		}
		watchers.Add(1)
		go watch(nid, np)
		mu.Lock()
		bridged++
		again := issued < b.N
		if again {
			issued++
		}
		if !again && bridged == issued {
			close(settled)
		}
		mu.Unlock()
		if again {
			hangup(id)
		}
	}
	bc.mu.Lock()
	for id, p := range bc.places {
		watchers.Add(1)
		go watch(id, p)
	}
	bc.mu.Unlock()
	done := make([]chan error, len(bc.nodes))
	for i, n := range bc.nodes {
		done[i] = make(chan error, 1)
		go func() { done[i] <- n.Run(ctx) }()
	}
	stopRuns := sync.OnceValue(func() error {
		cancel()
		var first error
		for _, d := range done {
			if err := <-d; err != nil && first == nil {
				first = err
			}
		}
		return first
	})
	defer stopRuns()  // also on a failure: Run ends before the cleanups close the databases
	bc.awaitLeader(b) // a run before stepped down: the next leader's takeover is not timed
	b.ResetTimer()
	first := min(conc, b.N)
	mu.Lock()
	issued = first
	mu.Unlock()
	for _, call := range bc.calls[:first] {
		go hangup(call)
	}
	select {
	case <-settled:
	case err := <-failed:
		b.Fatal(err)
	case <-time.After(time.Minute + time.Duration(b.N)*100*time.Millisecond): // never, not slow
		mu.Lock()
		b.Logf("freed %v", freed)
		dumpDB(b, bc.url)
		b.Fatalf("%d of %d hang-ups answered by a bridged caller", bridged, issued)
	}
	b.StopTimer()
	close(stop)
	if err := stopRuns(); err != nil {
		b.Fatal(err)
	}
	watchers.Wait()
	for _, r := range bc.ringers {
		r.setAuto(nil)
	}
	bc.mu.Lock()
	bc.calls = slices.Sorted(func(yield func(string) bool) {
		for id := range bc.agent {
			if !yield(id) {
				return
			}
		}
	})
	bc.mu.Unlock()
	if len(bc.calls) != benchAgents {
		b.Fatalf("%d calls bridged after the run; want %d", len(bc.calls), benchAgents)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	report(b, lat)
}

// benchSingleNode is the single node's side of the comparison: the same
// queue and decisions on one queue.Service, in process (what
// queue.BenchmarkDispatch measures), with the cluster cases' latency
// metric: from the hang-up to the offer reaching the ringer.
func benchSingleNode(b *testing.B) {
	ags, cfg := benchACD()
	r := &benchRinger{}
	cfg.Ringer = r
	s := queue.New(cfg)
	for _, a := range ags {
		if err := s.Login(a.ID); err != nil {
			b.Fatal(err)
		}
	}
	for i := range benchCallers {
		if _, err := s.Join(queue.JoinRequest{CallID: fmt.Sprintf("w%d", i), Queue: "q", Tier: benchTiers[i%3]}); err != nil {
			b.Fatal(err)
		}
	}
	offers, _ := r.take()
	var calls []string
	for _, o := range offers {
		if err := s.Answered(o.ID); err != nil {
			b.Fatal(err)
		}
		calls = append(calls, o.CallID)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		k := i % len(calls)
		t0 := time.Now()
		if err := s.Hangup(calls[k]); err != nil {
			b.Fatal(err)
		}
		o, at := r.take()
		if len(o) != 1 {
			b.Fatalf("%d offers after one agent freed", len(o))
		}
		lat = append(lat, at[0].Sub(t0))
		if err := s.Answered(o[0].ID); err != nil {
			b.Fatal(err)
		}
		calls[k] = o[0].CallID
		if _, err := s.Join(queue.JoinRequest{CallID: fmt.Sprintf("n%d", i), Queue: "q", Tier: benchTiers[i%3]}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	report(b, lat)
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "free-to-offer-µs-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "free-to-offer-µs-p99")
}

// dumpDB logs what is pending in the cluster's tables (a run that stalls).
func dumpDB(b *testing.B, url string) {
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Log(err)
		return
	}
	defer c.Close(context.Background())
	for _, q := range []string{`SELECT id::text, node, kind, body::text FROM acd_commands ORDER BY id`,
		`SELECT id::text, node, kind, body::text FROM acd_outbox ORDER BY id`, `SELECT offer_id, node, body::text, '' FROM acd_offers`,
		`SELECT epoch::text, node, since::text, beat::text FROM acd_leader`} {
		rows, err := c.Query(context.Background(), q)
		if err != nil {
			b.Log(err)
			continue
		}
		for rows.Next() {
			var a, bb, cc, d string
			_ = rows.Scan(&a, &bb, &cc, &d)
			b.Log(q[:30], a, bb, cc, d)
		}
	}
}
