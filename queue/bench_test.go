package queue

import (
	"fmt"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/store"
)

// fifoRinger keeps offers in ring order; the benchmark answers them in turn.
type fifoRinger struct{ offers []Offer }

func (r *fifoRinger) Ring(o Offer)         { r.offers = append(r.offers, o) }
func (r *fifoRinger) Cancel(Offer, string) {}

// BenchmarkDispatch measures routing decisions with 10,000 waiting callers
// and 1,000 agents, all agents busy ringing or talking. One op: an agent's
// call ends, the dispatcher chooses the next caller and offers it (one
// decision), the offer is answered, and a new caller joins so the queue
// stays at 10,000.
func BenchmarkDispatch(b *testing.B) {
	for _, strategy := range []config.Strategy{config.StrategyLongestIdle, config.StrategyRoundRobin, config.StrategyFewestCalls, config.StrategySkills} {
		b.Run(string(strategy), func(b *testing.B) {
			const nAgents, nCallers = 1000, 10000
			clk := &fakeClock{now: t0}
			rg := &fifoRinger{}
			q := config.Queue{Strategy: strategy, Skill: "vi", RingTimeout: time.Hour, MaxMisses: 1 << 30,
				MaxWait: 1000 * time.Hour, MaxLength: 1 << 30}
			var ags []config.Agent
			for i := range nAgents {
				ags = append(ags, config.Agent{ID: fmt.Sprintf("a%04d", i), Queues: map[string]int{"q": i % 3},
					Skills: map[string]int{"vi": 1 + i%10}})
			}
			s := New(Config{Agents: ags, Queues: one(q), Ringer: rg, Now: clk.Now})
			tiers := []store.Tier{store.TierStandard, store.TierVIP, store.TierNew}
			for _, a := range ags {
				s.Login(a.ID)
			}
			for i := range nCallers {
				if _, err := s.Join(JoinRequest{CallID: fmt.Sprintf("w%d", i), Queue: "q", Tier: tiers[i%3]}); err != nil {
					b.Fatal(err)
				}
			}
			// Every agent answers its first offer: 1,000 calls in progress.
			for _, o := range rg.offers {
				s.Answered(o.ID)
			}
			calls := make([]string, 0, nAgents)
			for _, o := range rg.offers {
				calls = append(calls, o.CallID)
			}
			rg.offers = rg.offers[:0]
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				clk.Advance(time.Millisecond)
				call := calls[i%len(calls)]
				if err := s.Hangup(call); err != nil {
					b.Fatal(err)
				}
				o := rg.offers[len(rg.offers)-1] // the decision just made
				if err := s.Answered(o.ID); err != nil {
					b.Fatal(err)
				}
				calls[i%len(calls)] = o.CallID
				if _, err := s.Join(JoinRequest{CallID: fmt.Sprintf("n%d", i), Queue: "q", Tier: tiers[i%3]}); err != nil {
					b.Fatal(err)
				}
				if len(rg.offers) > 1024 {
					rg.offers = rg.offers[:0]
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			if w := len(s.entries); w != nCallers-nAgents {
				b.Fatalf("%d callers waiting, want %d", w, nCallers-nAgents)
			}
		})
	}
}
