package registrar

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/goleak"

	"github.com/hotline-dev/hotline/events"
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
		actions = append(actions, string(action(e)))
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
	if len(evs) != 1 || action(evs[0]) != ActionExpired || evs[0].Payload.(BindingChange).Contacts != 0 {
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
	// A nonce we did not issue to this source is challenged afresh, not
	// counted: a forged source must not be able to get an address banned.
	forged := strings.Replace(auth, "nonce=\"", "nonce=\"ff", 1)
	mustStatus(t, g.send(g.raw(rq, forged)), 401)
	if s := g.r.Stats(); s.AuthFailures != 0 {
		t.Fatalf("forged nonce counted: %+v", s)
	}
}

// TestNonceBoundToSource: a nonce issued to one IP does not verify from
// another, even with the right password (the address is in its HMAC).
func TestNonceBoundToSource(t *testing.T) {
	g := newRig(t, nil)
	rq := reg{contacts: []string{"<sip:1001@10.0.0.1>"}, ip: "192.0.2.5"}
	chal := g.send(g.raw(rq, ""))
	other := rq
	other.ip = "192.0.2.6"
	for range 10 { // wrong password, other source: never counted
		bad := other
		bad.password = "wrong"
		mustStatus(t, g.send(g.raw(bad, g.answer(chal, bad, 1))), 401)
	}
	mustStatus(t, g.send(g.raw(other, g.answer(chal, other, 2))), 401)
	if g.r.BannedUser("192.0.2.6", "1001") || g.r.Stats().AuthFailures != 0 {
		t.Fatal("answers to another source's nonce counted as failures")
	}
	other.port = 5999 // same IP, other port (a NAT): the nonce is the IP's
	mustStatus(t, g.send(g.raw(rq, g.answer(chal, rq, 3))), 200)
}

func TestBanAfterRepeatedFailures(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxFailures = 3; c.BanTime = 5 * time.Minute })
	bad := reg{contacts: []string{"<sip:1001@10.0.0.1>"}, password: "wrong", ip: "192.0.2.66"}
	for range 3 {
		mustStatus(t, g.do(bad), 403)
	}
	good := bad
	good.password = ""
	// Banned: the right password is refused without being checked.
	mustStatus(t, g.do(good), 403)
	if !g.r.BannedUser("192.0.2.66", "1001") {
		t.Fatal("user not banned from the source")
	}
	if g.r.Banned("192.0.2.66") {
		t.Fatal("three failures of one user banned the whole source")
	}
	// Another agent on the same source (an office NAT) is unaffected.
	mustStatus(t, g.do(reg{user: "1002", contacts: []string{"<sip:1002@10.0.0.2>"}, ip: "192.0.2.66", callID: "b"}), 200)
	// The same agent from another source is unaffected.
	other := good
	other.ip = "192.0.2.67"
	mustStatus(t, g.do(other), 200)
	evs := g.drain()
	var banned []events.Event
	for _, e := range evs {
		if e.Type == EventBanned {
			banned = append(banned, e)
		}
	}
	if len(banned) != 1 || banned[0].Payload.(Ban).User != "1001" || banned[0].Payload.(Ban).Source != "192.0.2.66" ||
		banned[0].Payload.(Ban).BanS != 300 || banned[0].Agent != "a1" {
		t.Fatalf("ban events %+v", banned)
	}
	if s := g.r.Stats(); s.Bans != 1 || s.AuthFailures != 3 || s.RefusedBanned != 1 {
		t.Fatalf("stats %+v", s)
	}
	g.clk.Advance(5 * time.Minute)
	mustStatus(t, g.do(good), 200)
}

// TestSourceBanAcrossUsernames: a scanner inventing usernames has the
// invented names banned after MaxFailures (they share one entry, so the
// table does not grow with them), and the whole source once
// MaxSourceFailures failed across names.
func TestSourceBanAcrossUsernames(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxFailures = 3; c.MaxSourceFailures = 6 })
	for i := range 4 {
		u := fmt.Sprintf("9%03d", i)
		mustStatus(t, g.do(reg{user: u, contacts: []string{"<sip:" + u + "@192.0.2.80>"}, ip: "192.0.2.80", callID: u}), 403)
	}
	if !g.r.BannedUser("192.0.2.80", "9999") || g.r.Banned("192.0.2.80") {
		t.Fatal("want invented names banned from the source, not yet the source")
	}
	for range 3 {
		mustStatus(t, g.do(reg{contacts: []string{"<sip:1001@192.0.2.80>"}, ip: "192.0.2.80", password: "guess"}), 403)
	}
	if !g.r.Banned("192.0.2.80") {
		t.Fatal("scanner source not banned")
	}
	// Banned as a whole: even the challenge is refused.
	mustStatus(t, g.send(g.raw(reg{contacts: []string{"<sip:1001@192.0.2.80>"}, ip: "192.0.2.80"}, "")), 403)
	if n := len(g.r.bans.failures); n > 1 {
		t.Fatalf("%d failure keys for invented names, want them folded into one", n)
	}
}

// TestTrustedSourceNotBanned: where agents register (an office NAT), a
// guesser trying every name bans only the names it guessed; the source is
// not banned, and that is logged and counted as withheld.
func TestTrustedSourceNotBanned(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxFailures = 2; c.MaxSourceFailures = 4 })
	office := "198.51.100.7"
	mustStatus(t, g.do(reg{user: "1002", contacts: []string{"<sip:1002@10.0.0.2>"}, ip: office, callID: "lan"}), 200)
	for i := range 4 {
		u := []string{"1001", "1001", "8001", "8002"}[i]
		mustStatus(t, g.do(reg{user: u, contacts: []string{"<sip:" + u + "@10.9.9.9>"}, ip: office, port: 6000 + i,
			password: "guess", callID: "x" + u}), 403)
	}
	if g.r.Banned(office) {
		t.Fatal("a source agents registered from was banned as a whole")
	}
	if !g.r.BannedUser(office, "1001") {
		t.Fatal("the guessed user is not banned from the source")
	}
	mustStatus(t, g.do(reg{user: "1002", contacts: []string{"<sip:1002@10.0.0.2>"}, ip: office, callID: "lan"}), 200)
	if s := g.r.Stats(); s.BansWithheld != 1 {
		t.Fatalf("stats %+v, want one withheld source ban", s)
	}
}

// TestBindingHolderNotLockedOut: a guesser behind the same NAT as agent
// 1001 gets 1001 banned from the NAT's IP, but the phone that holds the
// binding, at its own address and port, keeps refreshing it; a new device
// as 1001 from that IP is refused until the ban ends.
func TestBindingHolderNotLockedOut(t *testing.T) {
	g := newRig(t, func(c *Config) { c.MaxFailures = 3 })
	nat := "198.51.100.9"
	phone := reg{contacts: []string{"<sip:1001@10.0.0.1:5060>"}, ip: nat, port: 40001, callID: "phone", expires: "300"}
	mustStatus(t, g.do(phone), 200)
	for i := range 5 {
		mustStatus(t, g.do(reg{contacts: []string{"<sip:1001@10.0.0.66>"}, ip: nat, port: 50000 + i, password: "guess", callID: "guess"}), 403)
	}
	if !g.r.BannedUser(nat, "1001") {
		t.Fatal("guessed user not banned")
	}
	for range 3 {
		mustStatus(t, g.do(phone), 200)
	}
	mustStatus(t, g.do(reg{contacts: []string{"<sip:1001@10.0.0.7>"}, ip: nat, port: 40002, callID: "new"}), 403)
	if n := len(g.r.Lookup("1001")); n != 1 {
		t.Fatalf("%d bindings, want the phone's one", n)
	}
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
