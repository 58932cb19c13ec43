package registrar

import (
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/events"
	"github.com/hotline-dev/hotline/outbound"
)

// TestContactPolicy: the outbound policy says what a phone may register as
// its contact. Whoever holds an agent's password must not be able to make
// Hotline INVITE a premium number or a trunk (toll fraud): 403, a log line,
// an event and a counter, and no binding.
func TestContactPolicy(t *testing.T) {
	pol, err := outbound.New(outbound.Config{Agents: testAgents, DefaultCountry: "VN",
		Allow: config.Allow{Numbers: []string{"+8428*"}, Hosts: []string{"trunk.example", "127.0.0.1:5070"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		policy  *outbound.Policy
		contact string
		status  int
	}{
		{"phone on a LAN", pol, "<sip:1001@10.0.0.9:5062>", 200},
		{"baresip style", pol, "<sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp>", 200},
		{"allowed number on the trunk", pol, "<sip:+842838001234@trunk.example>", 200},
		{"premium number on the trunk", pol, "<sip:+88216000000@trunk.example>", 403},
		{"premium number on a LAN host", pol, "<sip:+88216000000@10.0.0.9>", 403},
		{"premium number escaped", pol, "<sip:%2B88216000000@10.0.0.9>", 403},
		{"premium number in national form", pol, "<sip:0088216000000@10.0.0.9>", 403},
		{"name on the trunk", pol, "<sip:phone@TRUNK.example>", 403},
		{"name on the trunk's port", pol, "<sip:phone@127.0.0.1:5070>", 403},
		{"name on the same IP, another port", pol, "<sip:phone@127.0.0.1:5071>", 200},
		{"phone-context", pol, "<sip:1234;phone-context=+882@10.0.0.9>", 403},
		{"default policy: a number", nil, "<sip:+842838001234@10.0.0.9>", 403},
		{"default policy: own username", nil, "<sip:1001@10.0.0.9>", 200},
		{"one bad contact refuses all", pol, "<sip:1001@10.0.0.9>, <sip:+88216000000@10.0.0.9>", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t, func(c *Config) { c.Policy = tt.policy })
			mustStatus(t, g.do(reg{contacts: []string{tt.contact}}), tt.status)
			bound := len(g.r.Lookup("1001"))
			var refused []events.Event
			for _, e := range g.drain() {
				if e.Type == EventContactRefused {
					refused = append(refused, e)
				}
			}
			if tt.status == 200 {
				if bound == 0 || len(refused) != 0 {
					t.Fatalf("%d bindings, refusals %+v", bound, refused)
				}
				return
			}
			if bound != 0 {
				t.Fatalf("refused contact bound: %+v", g.r.Lookup("1001"))
			}
			if len(refused) != 1 || refused[0].Agent != "a1" || !strings.Contains(refused[0].Payload.(Refusal).Reason, "outbound") {
				t.Fatalf("refusal events %+v", refused)
			}
			if s := g.r.Stats(); s.ContactsRefused != 1 || s.AuthFailures != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestUnregisterRefusedContact: a binding that predates the allow-list
// (here: registered under a laxer policy) can still be removed.
func TestUnregisterRefusedContact(t *testing.T) {
	lax, err := outbound.New(outbound.Config{Agents: testAgents, DefaultCountry: "VN", Allow: config.Allow{Numbers: []string{"+882*"}},
		Limits: config.Outbound{BlockPrefixes: []string{}, BlockTypes: []string{}}}) // +882 is blocked by default
	if err != nil {
		t.Fatal(err)
	}
	g := newRig(t, func(c *Config) { c.Policy = lax })
	c := "<sip:+88216000000@10.0.0.9>"
	mustStatus(t, g.do(reg{contacts: []string{c}}), 200)
	g.r.cfg.Policy = nil // the allow-list changed (nil: the strictest)
	mustStatus(t, g.do(reg{contacts: []string{c}}), 403)
	mustStatus(t, g.do(reg{contacts: []string{c}, expires: "0"}), 200)
	if n := len(g.r.Lookup("1001")); n != 0 {
		t.Fatalf("%d bindings after un-REGISTER", n)
	}
}

// TestEmptyPasswordCannotRegister: an agent whose password resolves empty
// (config.Validate refuses that; the registrar is the second lock) cannot
// register with an empty password.
func TestEmptyPasswordCannotRegister(t *testing.T) {
	t.Setenv("HOTLINE_TEST_UNSET", "")
	g := newRig(t, func(c *Config) {
		c.Agents = append(c.Agents, config.Agent{ID: "a3", Username: "1003", Password: "env:HOTLINE_TEST_UNSET"})
	})
	rq := reg{user: "1003", contacts: []string{"<sip:1003@10.0.0.3>"}}
	chal := g.send(g.raw(rq, ""))
	for _, pw := range []string{"", "secret3"} {
		cred := digestFor(t, chal, "REGISTER", "sip:hotline", "1003", pw, 1)
		mustStatus(t, g.send(g.raw(rq, cred)), 403)
	}
	if n := len(g.r.Lookup("1003")); n != 0 {
		t.Fatalf("%d bindings", n)
	}
}
