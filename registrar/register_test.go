package registrar

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestChallengeOffersSHA256ThenMD5(t *testing.T) {
	g := newRig(t, nil)
	res := g.do(reg{noAuth: true, contacts: []string{"<sip:1001@10.0.0.1:5060>"}})
	if res.StatusCode != 401 {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
	hs := res.GetHeaders("WWW-Authenticate")
	if len(hs) != 2 || !strings.Contains(hs[0].Value(), "SHA-256") || !strings.Contains(hs[1].Value(), "MD5") {
		t.Fatalf("challenges %v", hs)
	}
	for _, h := range hs {
		if !strings.Contains(h.Value(), `qop="auth"`) || !strings.Contains(h.Value(), `realm="hotline"`) {
			t.Errorf("challenge %q lacks qop/realm", h.Value())
		}
	}
	if got := g.r.Lookup("1001"); len(got) != 0 {
		t.Fatalf("unauthenticated REGISTER bound %v", got)
	}
}

func TestRegisterTable(t *testing.T) {
	c1 := "<sip:1001@10.0.0.1:5060>"
	tests := []struct {
		name   string
		rq     reg
		status int
		bound  int
	}{
		{"sha256", reg{alg: "SHA-256", contacts: []string{c1}}, 200, 1},
		{"md5", reg{alg: "MD5", contacts: []string{c1}}, 200, 1},
		{"wrong password", reg{password: "nope", contacts: []string{c1}}, 403, 0},
		{"unknown user", reg{user: "9999", password: "x", contacts: []string{c1}}, 403, 0},
		{"other AOR", reg{user: "1002", authUser: "1001", password: "secret1", contacts: []string{c1}}, 403, 0},
		{"too brief", reg{contacts: []string{c1}, expires: "10"}, 423, 0},
		{"contact param too brief", reg{contacts: []string{c1 + ";expires=5"}}, 423, 0},
		{"bad expires", reg{contacts: []string{c1}, expires: "soon"}, 400, 0},
		{"star with expires", reg{contacts: []string{"*"}, expires: "60"}, 400, 0},
		{"star without Expires", reg{contacts: []string{"*"}}, 400, 0},
		{"query only", reg{}, 200, 0},
		{"digest uri of another target", reg{uri: "sip:other.example", contacts: []string{c1}}, 403, 0},
		{"digest uri with default port", reg{uri: "sip:hotline:5060", contacts: []string{c1}}, 200, 1},
		{"two contacts", reg{contacts: []string{c1, "<sip:1001@10.0.0.9:5062>;q=0.5"}}, 200, 2},
		{"comma list", reg{contacts: []string{c1 + ", <sip:1001@10.0.0.9:5062>"}}, 200, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t, nil)
			res := g.do(tt.rq)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tt.status)
			}
			user := tt.rq.user
			if user == "" {
				user = "1001"
			}
			if got := len(g.r.Lookup(user)); got != tt.bound {
				t.Fatalf("%d bindings, want %d", got, tt.bound)
			}
			if tt.status == 423 && res.GetHeader("Min-Expires") == nil {
				t.Fatal("423 without Min-Expires")
			}
			if tt.status == 200 && len(res.GetHeaders("Contact")) != tt.bound {
				t.Fatalf("200 lists %d contacts, want %d", len(res.GetHeaders("Contact")), tt.bound)
			}
		})
	}
}

func TestDefaultChallengeIsMD5AndNoDowngrade(t *testing.T) {
	g := newRig(t, func(c *Config) { c.Algorithms = nil })
	res := g.do(reg{noAuth: true})
	if hs := res.GetHeaders("WWW-Authenticate"); len(hs) != 1 || !strings.Contains(hs[0].Value(), "algorithm=MD5") {
		t.Fatalf("default challenges %v", hs)
	}
	mustStatus(t, g.do(reg{contacts: []string{"<sip:1001@10.0.0.1>"}}), 200)
	// Only SHA-256 offered: an MD5 answer (a downgrade) is refused.
	g = newRig(t, func(c *Config) { c.Algorithms = []string{"SHA-256"} })
	rq := reg{contacts: []string{"<sip:1001@10.0.0.1>"}}
	auth := g.answer(g.send(g.raw(rq, "")), rq, 1)
	mustStatus(t, g.send(g.raw(rq, strings.Replace(auth, "algorithm=SHA-256", "algorithm=MD5", 1))), 403)
}

func TestExpiryClampAndDefaults(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxExpires = 10 * time.Minute })
	res := g.do(reg{contacts: []string{"<sip:1001@10.0.0.1>"}, expires: "7200"})
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if v := res.GetHeader("Contact").Value(); !strings.HasSuffix(v, "expires=600") {
		t.Fatalf("contact %q, want expires=600", v)
	}
	c := g.r.Lookup("1001")[0]
	if want := g.clk.Now().Add(10 * time.Minute); !c.Expires.Equal(want) {
		t.Fatalf("expires %v want %v", c.Expires, want)
	}
}

func TestRefreshRemoveWildcardAndExpiry(t *testing.T) {
	g := newRig(t, nil)
	a, b := "<sip:1001@10.0.0.1:5060>", "<sip:1001@10.0.0.2:5060>"
	mustStatus(t, g.do(reg{contacts: []string{a}, expires: "120"}), 200)
	mustStatus(t, g.do(reg{contacts: []string{b}, expires: "600", ip: "10.0.0.2", callID: "other"}), 200)
	if n := len(g.r.Lookup("1001")); n != 2 {
		t.Fatalf("%d bindings, want 2", n)
	}
	g.clk.Advance(100 * time.Second)
	mustStatus(t, g.do(reg{contacts: []string{a}, expires: "120"}), 200) // refresh a
	g.clk.Advance(100 * time.Second)
	if n := len(g.r.Lookup("1001")); n != 2 {
		t.Fatalf("refreshed binding expired: %d", n)
	}
	mustStatus(t, g.do(reg{contacts: []string{a}, expires: "0"}), 200) // un-REGISTER a
	got := g.r.Lookup("1001")
	if len(got) != 1 || got[0].URI != "sip:1001@10.0.0.2:5060" {
		t.Fatalf("after removing a: %+v", got)
	}
	mustStatus(t, g.do(reg{contacts: []string{a}, expires: "120"}), 200)
	mustStatus(t, g.do(reg{contacts: []string{"*"}, expires: "0"}), 200)
	if n := len(g.r.Lookup("1001")); n != 0 {
		t.Fatalf("wildcard left %d bindings", n)
	}
	actions := []string{}
	for _, e := range g.drain() {
		actions = append(actions, e.Data["action"].(string))
		if e.Agent != "a1" || e.Type != EventBinding {
			t.Fatalf("event %+v", e)
		}
	}
	want := "added added refreshed removed added removed removed"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	// Expiry by the clock: Lookup hides it at once, Sweep removes and reports.
	mustStatus(t, g.do(reg{contacts: []string{a}, expires: "60"}), 200)
	g.drain()
	g.clk.Advance(61 * time.Second)
	if n := len(g.r.Lookup("1001")); n != 0 {
		t.Fatalf("expired binding still returned")
	}
	g.r.Sweep()
	evs := g.drain()
	if len(evs) != 1 || evs[0].Data["action"] != "expired" || evs[0].Data["contacts"] != 0 {
		t.Fatalf("sweep events %+v", evs)
	}
}

func TestStaleNonceAndReplay(t *testing.T) {
	g := newRig(t, func(c *Config) { c.NonceTTL = time.Minute })
	rq := reg{contacts: []string{"<sip:1001@10.0.0.1>"}}
	chal := g.send(g.raw(rq, ""))
	auth := g.answer(chal, rq, 1)
	mustStatus(t, g.send(g.raw(rq, auth)), 200)
	// The same nc again is a replay: challenged, not accepted, not a failure.
	res := g.send(g.raw(rq, auth))
	mustStatus(t, res, 401)
	mustStatus(t, g.send(g.raw(rq, g.answer(chal, rq, 2))), 200)
	g.clk.Advance(2 * time.Minute)
	res = g.send(g.raw(rq, g.answer(chal, rq, 3)))
	mustStatus(t, res, 401)
	if !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Fatalf("stale nonce challenge lacks stale=true: %v", res)
	}
	// A forged nonce is a failure, answered 403.
	forged := strings.Replace(auth, "nonce=\"", "nonce=\"ff", 1)
	mustStatus(t, g.send(g.raw(rq, forged)), 403)
}

func TestBanAfterRepeatedFailures(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxFailures = 3; c.BanTime = 5 * time.Minute })
	bad := reg{contacts: []string{"<sip:1001@10.0.0.1>"}, password: "wrong", ip: "192.0.2.66"}
	for range 3 {
		mustStatus(t, g.do(bad), 403)
	}
	good := bad
	good.password = ""
	// Banned: even the challenge is refused, with no processing.
	mustStatus(t, g.do(good), 403)
	if !g.r.Banned("192.0.2.66") {
		t.Fatal("source not banned")
	}
	// Another source is unaffected.
	other := good
	other.ip = "192.0.2.67"
	mustStatus(t, g.do(other), 200)
	g.clk.Advance(5 * time.Minute)
	mustStatus(t, g.do(good), 200)
}

func TestFailuresOutsideWindowDoNotBan(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxFailures = 2; c.FailureWindow = time.Minute })
	bad := reg{contacts: []string{"<sip:1001@10.0.0.1>"}, password: "wrong"}
	mustStatus(t, g.do(bad), 403)
	g.clk.Advance(2 * time.Minute)
	mustStatus(t, g.do(bad), 403)
	if g.r.Banned("10.0.0.1") {
		t.Fatal("failures a window apart banned the source")
	}
}

func TestOutOfOrderCSeq(t *testing.T) {
	g := newRig(t, nil)
	rq := reg{contacts: []string{"<sip:1001@10.0.0.1>"}}
	mustStatus(t, g.do(rq), 200)
	g.seq = 0 // the next authenticated request repeats CSeq 2 on the same Call-ID
	mustStatus(t, g.do(rq), 400)
}

func TestMaxContacts(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxContacts = 1 })
	mustStatus(t, g.do(reg{contacts: []string{"<sip:1001@10.0.0.1>"}}), 200)
	mustStatus(t, g.do(reg{contacts: []string{"<sip:1001@10.0.0.2>"}, callID: "x"}), 403)
	if n := len(g.r.Lookup("1001")); n != 1 {
		t.Fatalf("%d bindings", n)
	}
}

func TestLookupOrderAndAgent(t *testing.T) {
	g := newRig(t, nil)
	mustStatus(t, g.do(reg{contacts: []string{"<sip:1001@10.0.0.1>;q=0.2", "<sip:1001@10.0.0.2>;q=0.9"}}), 200)
	got := g.r.LookupAgent("a1")
	if len(got) != 2 || got[0].URI != "sip:1001@10.0.0.2" {
		t.Fatalf("lookup %+v", got)
	}
	if uris := g.r.ContactURIs("1001"); len(uris) != 2 || uris[0] != "sip:1001@10.0.0.2" {
		t.Fatalf("contact URIs %v", uris)
	}
	if g.r.LookupAgent("nobody") != nil {
		t.Fatal("unknown agent has contacts")
	}
}

func mustStatus(t *testing.T, res *sip.Response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, want)
	}
}
