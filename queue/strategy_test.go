package queue

import (
	"testing"
	"time"

	"github.com/hotline-dev/hotline/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStrategies checks which agent each strategy offers a caller to.
func TestStrategies(t *testing.T) {
	type setup func(g *rig)
	loginAll := func(ids ...string) setup {
		return func(g *rig) {
			for _, id := range ids {
				g.must(g.s.Login(id))
				g.clk.Advance(time.Second)
			}
		}
	}
	// serve answers and hangs up one call for an agent so it has history.
	serve := func(g *rig, call string) {
		g.join(call, "q", "")
		o := g.rg.last(g.t)
		g.rg.done(o.ID)
		g.must(g.s.Answered(o.ID))
		g.must(g.s.Hangup(call))
		g.clk.Advance(time.Second)
	}
	tests := []struct {
		name   string
		q      config.Queue
		agents []config.Agent
		setup  setup
		want   []string // agents offered for successive callers (each answered and hung up)
	}{
		{"longest-idle", config.Queue{}, agents("a", "b", "c"), loginAll("b", "c", "a"), []string{"b", "c", "a", "b"}},
		{"round-robin", config.Queue{Strategy: "round-robin"}, agents("a", "b", "c"), loginAll("c", "b", "a"), []string{"a", "b", "c", "a"}},
		{"fewest-calls", config.Queue{Strategy: "fewest-calls"}, agents("a", "b"),
			func(g *rig) {
				loginAll("a")(g)
				serve(g, "warm1")
				serve(g, "warm2")
				loginAll("b")(g)
			}, []string{"b", "b", "a"}},
		{"penalty first", config.Queue{}, []config.Agent{
			{ID: "a", Queues: map[string]int{"q": 5}}, {ID: "b", Queues: map[string]int{"q": 1}}},
			loginAll("a", "b"), []string{"b", "b"}},
		{"skills level then penalty", config.Queue{Strategy: "skills", Skill: "vi"}, []config.Agent{
			{ID: "a", Queues: map[string]int{"q": 0}, Skills: map[string]int{"vi": 3}},
			{ID: "b", Queues: map[string]int{"q": 9}, Skills: map[string]int{"vi": 8}},
			{ID: "c", Queues: map[string]int{"q": 0}, Skills: map[string]int{"en": 10}}},
			loginAll("a", "b", "c"), []string{"b", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t, one(tt.q), tt.agents)
			tt.setup(g)
			for i, want := range tt.want {
				before := g.rg.count()
				call := "c" + string(rune('0'+i))
				g.join(call, "q", "")
				if g.rg.count() != before+1 {
					t.Fatalf("caller %d: %d rings, want 1", i, g.rg.count()-before)
				}
				o := g.rg.last(t)
				if o.Agent != want {
					t.Fatalf("caller %d offered to %s, want %s", i, o.Agent, want)
				}
				g.rg.done(o.ID)
				g.must(g.s.Answered(o.ID))
				g.must(g.s.Hangup(call))
				g.clk.Advance(time.Second)
			}
		})
	}
}

func TestRingAllFirstAnswerWins(t *testing.T) {
	g := newRig(t, one(config.Queue{Strategy: "ring-all"}), agents("a", "b", "c"))
	for _, id := range []string{"a", "b", "c"} {
		g.must(g.s.Login(id))
	}
	tk := g.join("c1", "q", "")
	if g.rg.count() != 3 {
		t.Fatalf("%d rings, want 3", g.rg.count())
	}
	win := g.rg.rings[1]
	g.rg.done(win.ID)
	g.must(g.s.Answered(win.ID))
	if len(g.rg.active) != 0 {
		t.Fatalf("losers still ringing: %v", g.rg.active)
	}
	for _, o := range []Offer{g.rg.rings[0], g.rg.rings[2]} {
		if g.rg.cancels[o.ID] != "answered-elsewhere" {
			t.Fatalf("offer %s cancel reason %q", o.ID, g.rg.cancels[o.ID])
		}
		if a := g.agentState(o.Agent); a.Activity != Idle || a.Misses != 0 {
			t.Fatalf("loser %s: %+v", o.Agent, a)
		}
	}
	if out := tk.Outcome(); out.Reason != ReasonAnswered || out.Agent != win.Agent {
		t.Fatalf("outcome %+v", out)
	}
	if err := g.s.Answered(g.rg.rings[0].ID); err == nil {
		t.Fatal("late answer on a cancelled offer accepted")
	}
}

func TestFeatureCodes(t *testing.T) {
	tests := []struct {
		code     string
		presence Presence
		reason   string
		wantErr  bool
	}{
		{"*11", Available, "", false},
		{"*13", Paused, "phone", false},
		{"*1342", Paused, "code-42", false},
		{"*14", Available, "", false},
		{"*12", LoggedOut, "", false},
		{"*19", Available, "", true},
		{"*13ab", Available, "", true},
		{"", Available, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			g := newRig(t, one(config.Queue{}), agents("a"))
			if tt.code != "*11" {
				g.must(g.s.Login("a"))
			}
			if tt.code == "*14" {
				g.must(g.s.Pause("a", "lunch"))
			}
			err := g.s.FeatureCode("a", tt.code)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if a := g.agentState("a"); a.Presence != tt.presence || a.Reason != tt.reason {
				t.Fatalf("state %s/%q, want %s/%q", a.Presence, a.Reason, tt.presence, tt.reason)
			}
		})
	}
	g := newRig(t, one(config.Queue{}), agents("a"))
	if err := g.s.FeatureCode("nobody", "*11"); err == nil {
		t.Fatal("unknown agent accepted")
	}
	if err := g.s.FeatureCode("a", "*14"); err == nil {
		t.Fatal("ready while logged out accepted")
	}
}
