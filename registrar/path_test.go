package registrar

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-dev/hotline/store"
)

func TestParsePath(t *testing.T) {
	long := "<sip:" + strings.Repeat("a", maxPathLen) + ".example;lr>"
	for _, tc := range []struct {
		name    string
		headers []string
		want    []string
		err     bool
	}{
		{name: "none"},
		{name: "one", headers: []string{"Path: <sip:10.0.0.5:5060;lr>"}, want: []string{"<sip:10.0.0.5:5060;lr>"}},
		{name: "comma list keeps order", headers: []string{"Path: <sip:p1.example;lr>, <sip:p2.example;lr;transport=tcp>"},
			want: []string{"<sip:p1.example;lr>", "<sip:p2.example;lr;transport=tcp>"}},
		{name: "two headers keep order", headers: []string{"Path: <sip:p1.example;lr>", "Path: <sips:p2.example;lr>"},
			want: []string{"<sip:p1.example;lr>", "<sips:p2.example;lr>"}},
		{name: "kamailio style with user", headers: []string{"Path: <sip:127.0.0.1:5090;lr;received=sip:127.0.0.1:4000>"},
			want: []string{"<sip:127.0.0.1:5090;lr;received=sip:127.0.0.1:4000>"}},
		{name: "tel scheme", headers: []string{"Path: <tel:+15551234>"}, err: true},
		{name: "garbage", headers: []string{"Path: <<<"}, err: true},
		{name: "empty entry", headers: []string{"Path: <sip:p1.example;lr>,"}, err: true},
		{name: "too long", headers: []string{"Path: " + long}, err: true},
		{name: "too many", headers: []string{"Path: " + strings.Repeat("<sip:p.example;lr>, ", maxPathEntries) + "<sip:q.example;lr>"}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := pathReq(t, tc.headers)
			got, err := parsePath(req)
			if tc.err {
				if err == nil {
					t.Fatalf("parsePath = %v, want an error", got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("parsePath = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestSupportsPath(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    bool
	}{
		{nil, false},
		{[]string{"Supported: replaces, timer"}, false},
		{[]string{"Supported: replaces, Path"}, true},
		{[]string{"Require: path"}, true},
		{[]string{"Supported: pathx"}, false},
	} {
		if got := supportsPath(pathReq(t, tc.headers)); got != tc.want {
			t.Errorf("supportsPath(%q) = %v, want %v", tc.headers, got, tc.want)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"<sip:10.0.0.5;lr>", "<sip:a;lr>, <sip:b;lr>", `"x,y" <sip:a;lr>`, "<", ",,,", "<sip:a>,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return
		}
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "hotline"})
		req.AppendHeader(sip.NewHeader("Path", v))
		got, err := parsePath(req)
		if err != nil {
			return
		}
		for _, p := range got {
			if !strings.HasPrefix(p, "<sip") || !strings.HasSuffix(p, ">") || strings.ContainsAny(p, "\r\n") {
				t.Fatalf("%q gave route %q", v, p)
			}
		}
	})
}

func pathReq(t *testing.T, headers []string) *sip.Request {
	t.Helper()
	raw := "REGISTER sip:hotline SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n" +
		"From: <sip:1001@hotline>;tag=f\r\nTo: <sip:1001@hotline>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n"
	for _, h := range headers {
		raw += h + "\r\n"
	}
	m, err := sip.ParseMessage([]byte(raw + "Content-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

// TestRegisterPath: a REGISTER through a trusted proxy keeps its Path with
// the binding (RouteSet, the state saved across restarts), the 200 echoes
// it to a UA that supports path; the same REGISTER from an untrusted
// source is 403 and binds nothing, before any challenge.
func TestRegisterPath(t *testing.T) {
	st := &memBindings{by: map[string]store.UserBindings{}}
	g := newRig(t, func(c *Config) {
		c.Trusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/30")}
		c.State = st
	})
	contact := "<sip:1001@192.0.2.7:5060>"
	path := "Path: <sip:10.0.0.1:5060;lr>"

	res := g.do(reg{ip: "10.0.0.9", contacts: []string{contact}, headers: []string{path}})
	if res.StatusCode != 403 {
		t.Fatalf("untrusted Path: %d, want 403", res.StatusCode)
	}
	if len(res.GetHeaders("WWW-Authenticate")) != 0 || len(g.r.Lookup("1001")) != 0 {
		t.Fatalf("untrusted Path was challenged or bound: %v", res)
	}

	res = g.do(reg{ip: "10.0.0.1", contacts: []string{contact}, headers: []string{path, "Supported: path"}})
	if res.StatusCode != 200 {
		t.Fatalf("trusted Path: %d", res.StatusCode)
	}
	if h := res.GetHeader("Path"); h == nil || h.Value() != "<sip:10.0.0.1:5060;lr>" {
		t.Fatalf("200 Path = %v, want the request's", h)
	}
	if h := res.GetHeader("Supported"); h == nil || h.Value() != "path" {
		t.Fatalf("200 Supported = %v", h)
	}
	if got := g.r.RouteSet("sip:1001@192.0.2.7:5060"); !slices.Equal(got, []string{"<sip:10.0.0.1:5060;lr>"}) {
		t.Fatalf("RouteSet = %q", got)
	}
	if got := g.r.RouteSet("sip:1001@192.0.2.99:5060"); got != nil {
		t.Fatalf("RouteSet of an unregistered contact = %q", got)
	}
	saved := st.all()
	if len(saved) != 1 || !slices.Equal(saved[0].Contacts[0].Path, []string{"<sip:10.0.0.1:5060;lr>"}) {
		t.Fatalf("saved %+v, want the Path kept", saved)
	}

	// A UA that does not say Supported: path gets no Path back (RFC 3327 §5.3), still bound with it.
	res = g.do(reg{ip: "10.0.0.2", user: "1002", callID: "r2", contacts: []string{"<sip:1002@192.0.2.8:5060>"}, headers: []string{path}})
	if res.StatusCode != 200 || res.GetHeader("Path") != nil {
		t.Fatalf("no Supported: path: %d Path %v", res.StatusCode, res.GetHeader("Path"))
	}
	if got := g.r.RouteSet("sip:1002@192.0.2.8:5060"); len(got) != 1 {
		t.Fatalf("RouteSet 1002 = %q", got)
	}

	// Restored on a new registrar: the route set with it; on one that no
	// longer trusts the proxy, the binding is dropped.
	g2 := newRig(t, func(c *Config) { c.Trusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/30")} })
	g2.r.Restore(saved)
	if got := g2.r.RouteSet("sip:1001@192.0.2.7:5060"); !slices.Equal(got, []string{"<sip:10.0.0.1:5060;lr>"}) {
		t.Fatalf("restored RouteSet = %q", got)
	}
	g3 := newRig(t, nil)
	g3.r.Restore(saved)
	if got := g3.r.Lookup("1001"); len(got) != 0 {
		t.Fatalf("restored without the proxy trusted: %+v, want the Path binding dropped", got)
	}

	// Expired: no route set any more.
	g.clk.Advance(2 * time.Hour)
	if got := g.r.RouteSet("sip:1001@192.0.2.7:5060"); got != nil {
		t.Fatalf("RouteSet after expiry = %q", got)
	}

	// A malformed Path is 400, trusted or not.
	if res := g.do(reg{ip: "10.0.0.1", contacts: []string{contact}, headers: []string{"Path: <tel:1>"}}); res.StatusCode != 400 {
		t.Fatalf("bad Path: %d, want 400", res.StatusCode)
	}
}

// TestNonceSharedSecret: a nonce minted by one registrar verifies in a
// second one with the same NonceKey (another node behind the proxy), and
// is challenged afresh by one with a different key.
func TestNonceSharedSecret(t *testing.T) {
	key := []byte(strings.Repeat("s", 32))
	a := newRig(t, func(c *Config) { c.NonceKey = key })
	b := newRig(t, func(c *Config) { c.NonceKey = append([]byte(nil), key...) })
	other := newRig(t, func(c *Config) { c.NonceKey = []byte(strings.Repeat("o", 32)) })
	random := newRig(t, nil)
	rq := reg{contacts: []string{"<sip:1001@10.0.0.1:5060>"}}
	chal := a.send(a.raw(rq, ""))
	if chal.StatusCode != 401 {
		t.Fatalf("challenge: %d", chal.StatusCode)
	}
	auth := a.answer(chal, rq, 1)
	if res := b.send(b.raw(rq, auth)); res.StatusCode != 200 {
		t.Fatalf("same secret: %d, want 200", res.StatusCode)
	}
	for name, g := range map[string]*rig{"other secret": other, "random key": random} {
		res := g.send(g.raw(rq, auth))
		if res.StatusCode != 401 || len(g.r.Lookup("1001")) != 0 {
			t.Fatalf("%s: %d, want 401 and nothing bound", name, res.StatusCode)
		}
		if h := res.GetHeader("WWW-Authenticate"); h == nil || strings.Contains(h.Value(), "stale=true") {
			t.Fatalf("%s: challenge %v, want a fresh one (not stale)", name, h)
		}
	}
}

// TestProxySourceNeverBannedWhole: the proxy in front (Config.Trusted) is
// every phone's source; failures through it ban the guessed usernames,
// never the proxy as a whole (that would lock every agent out), even
// when nobody has authenticated through it yet.
func TestProxySourceNeverBannedWhole(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		whole   bool
	}{
		{"untrusted source is banned whole", nil, true},
		{"proxy source is not", []netip.Prefix{netip.MustParsePrefix("192.0.2.80/32")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, func(c *Config) { c.MaxFailures = 3; c.MaxSourceFailures = 6; c.Trusted = tc.trusted })
			for i := range 4 {
				u := fmt.Sprintf("9%03d", i)
				g.do(reg{user: u, contacts: []string{"<sip:" + u + "@192.0.2.80>"}, ip: "192.0.2.80", callID: u})
			}
			for range 3 {
				g.do(reg{contacts: []string{"<sip:1001@192.0.2.80>"}, ip: "192.0.2.80", password: "guess"})
			}
			if got := g.r.Banned("192.0.2.80"); got != tc.whole {
				t.Fatalf("source banned whole = %v, want %v", got, tc.whole)
			}
			if !g.r.BannedUser("192.0.2.80", "9999") {
				t.Fatal("the guessed (unknown) usernames are not banned from the source")
			}
		})
	}
}
