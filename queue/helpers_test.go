package queue

import (
	"sync"
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/store"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeRinger records rings and cancels; active mirrors what a phone side
// would still be ringing.
type fakeRinger struct {
	mu      sync.Mutex
	active  map[string]Offer
	rings   []Offer
	cancels map[string]string // offer -> reason
	onRing  func(Offer)
}

func newFakeRinger() *fakeRinger {
	return &fakeRinger{active: map[string]Offer{}, cancels: map[string]string{}}
}

func (r *fakeRinger) Ring(o Offer) {
	r.mu.Lock()
	r.active[o.ID] = o
	r.rings = append(r.rings, o)
	f := r.onRing
	r.mu.Unlock()
	if f != nil {
		f(o)
	}
}

func (r *fakeRinger) Cancel(o Offer, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, o.ID)
	r.cancels[o.ID] = reason
}

// done removes an offer the test answered or failed.
func (r *fakeRinger) done(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, id)
}

// last returns the most recent ring.
func (r *fakeRinger) last(t *testing.T) Offer {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.rings) == 0 {
		t.Fatal("nothing rang")
	}
	return r.rings[len(r.rings)-1]
}

func (r *fakeRinger) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rings)
}

type rig struct {
	t   *testing.T
	clk *fakeClock
	rg  *fakeRinger
	s   *Service
	bus *events.Bus
	sub *events.Subscription
}

var t0 = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)

func newRig(t *testing.T, queues map[string]config.Queue, agents []config.Agent) *rig {
	t.Helper()
	for n, q := range queues {
		queues[n] = q.WithDefaults()
	}
	clk := &fakeClock{now: t0}
	rg := newFakeRinger()
	bus := events.NewBus()
	sub := bus.Subscribe(1 << 16)
	t.Cleanup(sub.Close)
	s := New(Config{Agents: agents, Queues: queues, Ringer: rg, Bus: bus, Now: clk.Now})
	return &rig{t: t, clk: clk, rg: rg, s: s, bus: bus, sub: sub}
}

func (g *rig) must(err error) {
	g.t.Helper()
	if err != nil {
		g.t.Fatal(err)
	}
}

func (g *rig) join(call, q string, tier store.Tier) *Place {
	g.t.Helper()
	tk, err := g.s.Join(JoinRequest{CallID: call, Queue: q, Tier: tier})
	g.must(err)
	return tk
}

func (g *rig) agentState(id string) AgentInfo {
	g.t.Helper()
	a, err := g.s.Agent(id)
	g.must(err)
	return a
}

func (g *rig) advance(d time.Duration) {
	g.clk.Advance(d)
	g.s.Tick()
}

func agents(ids ...string) []config.Agent {
	var out []config.Agent
	for _, id := range ids {
		out = append(out, config.Agent{ID: id, Username: "u" + id, Queues: map[string]int{"q": 0}})
	}
	return out
}

func one(q config.Queue) map[string]config.Queue { return map[string]config.Queue{"q": q} }

// payload is e's payload as a T, or T's zero value when it carries another
// (so a check on it fails instead of panicking).
func payload[T any](e events.Event) T {
	p, _ := e.Payload.(T)
	return p
}
