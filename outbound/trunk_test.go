package outbound

import (
	"errors"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/config"
)

// trunkPolicy has three trunks: city (HCMC fixed lines, national format,
// two calls), mobile (every +84 number, E.164 without +, a tech prefix,
// passes caller IDs) and world (the default, E.164, behind a proxy).
func trunkPolicy(t *testing.T, mod func(*Config)) *Policy {
	t.Helper()
	cfg := Config{
		Allow:          config.Allow{Numbers: []string{"+84*", "+1*", "+44*", "+8819*", "+19005550100"}, Hosts: []string{"pbx.example:5070"}},
		Agents:         []config.Agent{{ID: "ext", URI: "sip:+84987000111@sip.mobile.example"}, {ID: "desk", URI: "sip:desk@pbx.example:5070"}},
		DefaultCountry: "VN",
		Domains:        []string{"hotline", "192.0.2.1"},
		Trunks: []config.Trunk{
			{Name: "city", Host: "sip.city.example:5080", CallerID: "028 3800 1234", AssertID: true, NumberFormat: config.FormatNational, MaxCalls: 2, Numbers: []string{"+8428*"}},
			{Name: "mobile", Host: "sip.mobile.example", Transport: "tcp", Username: "acct", Password: "pw", FromUser: "acct",
				CallerID: "+842838001234", PassCallerID: true, NumberFormat: config.FormatInternational, Prefix: "1234#", MaxCalls: 1, Numbers: []string{"+84*"}},
			{Name: "world", Host: "203.0.113.5", OutboundProxy: "sbc.world.example", CallerID: "+842838009999", Default: true, MaxCalls: -1},
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrunkRouting(t *testing.T) {
	p := trunkPolicy(t, nil)
	for _, tt := range []struct{ number, trunks string }{
		{"+842838001234", "city,mobile,world"}, // the longest prefix first
		{"+84912345678", "mobile,world"},
		{"+14155550100", "world"}, // the default
	} {
		var got []string
		for _, tr := range p.route(tt.number) {
			got = append(got, tr.Name)
		}
		if strings.Join(got, ",") != tt.trunks {
			t.Errorf("route(%s) = %v, want %s", tt.number, got, tt.trunks)
		}
	}
	noDefault := trunkPolicy(t, func(c *Config) { c.Trunks = c.Trunks[:2] })
	if r := noDefault.route("+14155550100"); len(r) != 0 {
		t.Errorf("no default trunk: route = %v", r)
	}
}

func TestTrunkFormats(t *testing.T) {
	p := trunkPolicy(t, nil)
	city, mobile, world := p.trunks[0], p.trunks[1], p.trunks[2]
	for _, tt := range []struct {
		tr   *Trunk
		in   string
		want string
	}{
		{city, "+842838001234", "02838001234"},
		{city, "+84912345678", "0912345678"},
		{city, "+14155550100", "0014155550100"}, // the international prefix from VN
		{mobile, "+84912345678", "1234#84912345678"},
		{world, "+14155550100", "+14155550100"},
	} {
		if got := tt.tr.Format(tt.in); got != tt.want {
			t.Errorf("%s.Format(%s) = %q, want %q", tt.tr.Name, tt.in, got, tt.want)
		}
	}
	if city.HostPort() != "sip.city.example:5080" || world.HostPort() != "203.0.113.5" || world.Proxy != "sbc.world.example:5060" {
		t.Errorf("hosts %q %q proxy %q", city.HostPort(), world.HostPort(), world.Proxy)
	}
}

// TestGrantOnTrunk: what each trunk sends for a callback and for a dial on
// behalf of a caller.
func TestGrantOnTrunk(t *testing.T) {
	p := trunkPolicy(t, func(c *Config) { c.Limits = config.Outbound{MaxPerNumberPerHour: -1, MaxPerSourcePerHour: -1} })
	type want struct{ URI, Number, User, CallerID, Asserted string }
	for _, tt := range []struct {
		name string
		d    Dial
		want want
	}{
		{"callback to a city number", Dial{Number: "028 3800 5555"},
			want{URI: "sip:02838005555@sip.city.example:5080", Number: "+842838005555", User: "02838005555", CallerID: "02838001234", Asserted: "02838001234"}},
		{"callback to a mobile: the account as From, no caller to pass", Dial{Number: "0912345678"},
			want{URI: "sip:1234%2384912345678@sip.mobile.example", Number: "+84912345678", User: "1234#84912345678", CallerID: "acct"}},
		{"a transfer through the default trunk", Dial{Number: "+1 415 555 0100", Caller: "0987654321"},
			want{URI: "sip:+14155550100@203.0.113.5", Number: "+14155550100", User: "+14155550100", CallerID: "+842838009999"}},
		{"an external agent on the mobile trunk's host", Dial{URI: "sip:+84987000111@sip.mobile.example", Caller: "0987654321"},
			want{URI: "sip:1234%2384987000111@sip.mobile.example", Number: "+84987000111", User: "1234#84987000111", CallerID: "acct"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := p.CheckDial(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Release()
			if got := (want{g.URI, g.Number, g.User, g.CallerID, g.Asserted}); got != tt.want {
				t.Errorf("grant %+v\nwant  %+v", got, tt.want)
			}
		})
	}
	// The mobile trunk takes one call: a second mobile number goes out on
	// the next trunk that serves it, the default (no limit).
	g1, err := p.CheckDial(Dial{Number: "0912000001"})
	if err != nil || g1.TrunkName() != "mobile" {
		t.Fatalf("first: %v %v", g1.TrunkName(), err)
	}
	g2, err := p.CheckDial(Dial{Number: "0912000002"})
	if err != nil || g2.TrunkName() != "world" {
		t.Fatalf("second, mobile full: %v %v, want world", g2.TrunkName(), err)
	}
	g1.Release()
	g1.Release() // idempotent: frees one slot once
	g3, err := p.CheckDial(Dial{Number: "0912000003"})
	if err != nil || g3.TrunkName() != "mobile" {
		t.Fatalf("after release: %v %v, want mobile", g3.TrunkName(), err)
	}
	// A URI naming the full mobile trunk's host goes out on the next trunk
	// that serves the number; a name there has no other trunk to go to.
	g4, err := p.CheckDial(Dial{URI: "sip:+84987000222@sip.mobile.example"})
	if err != nil || g4.TrunkName() != "world" || g4.URI != "sip:+84987000222@203.0.113.5" {
		t.Fatalf("number URI on a full trunk: %+v, %v, want world", g4, err)
	}
	g4.Release()
	_, err = p.CheckDial(Dial{URI: "sip:desk@sip.mobile.example"})
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != ReasonTrunkBusy || !re.Temporary() || !errors.Is(err, ErrBusy) {
		t.Fatalf("name on a full trunk: %v, want trunk-busy", err)
	}
	g2.Release()
	g3.Release()
	if s := p.Stats(); s.Active != 0 || s.Trunks["mobile"] != 0 || s.Trunks["world"] != 0 {
		t.Errorf("stats after releases %+v", s)
	}
}

// TestTrunkPassesCallerID: pass_caller_id presents the caller's number when
// it is one, else the trunk's caller_id.
func TestTrunkPassesCallerID(t *testing.T) {
	p := trunkPolicy(t, func(c *Config) { c.Trunks[1].FromUser = ""; c.Trunks[1].AssertID = true })
	mobile := p.trunks[1]
	for _, tt := range []struct{ caller, want string }{
		{"0987654321", "84987654321"},
		{"+1 415 555 0100", "14155550100"},
		{"anonymous", "842838001234"},
		{"", "842838001234"},
	} {
		if got := mobile.presented(tt.caller); got != tt.want {
			t.Errorf("presented(%q) = %q, want %q", tt.caller, got, tt.want)
		}
	}
	g, err := p.CheckDial(Dial{Number: "0912345678", Caller: "0987654321"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	if g.CallerID != "84987654321" || g.Asserted != "84987654321" {
		t.Errorf("grant %+v", g)
	}
}

// TestTransferToOwnNumberGoesOutThroughTrunk: a REFER to a number on
// Hotline's own host is dialled on the trunk that serves it; an extension
// there is still a registered contact, and without a serving trunk a
// number is too (as before trunks).
func TestTransferToOwnNumberGoesOutThroughTrunk(t *testing.T) {
	p := trunkPolicy(t, func(c *Config) { c.Allow.Extensions = []string{"2001"} })
	tg, err := p.Check(Transfer, Address{User: "0912.345.678", Host: "hotline"})
	if err != nil || tg.Own || tg.Trunk != "mobile" || tg.URI != "sip:+84912345678@sip.mobile.example" {
		t.Fatalf("number on Hotline: %+v, %v", tg, err)
	}
	if tg, err := p.Check(Transfer, Address{User: "2001", Host: "hotline"}); err != nil || !tg.Own {
		t.Fatalf("extension on Hotline: %+v, %v", tg, err)
	}
	none := trunkPolicy(t, func(c *Config) { c.Trunks = nil })
	if tg, err := none.Check(Transfer, Address{User: "0912345678", Host: "hotline"}); err != nil || !tg.Own {
		t.Fatalf("no trunks: %+v, %v", tg, err)
	}
}

// TestTrunkHostsAreListed: a trunk's host and its proxy guard numbers as
// an allow.hosts entry does, and an agent uri may name them.
func TestTrunkHostsAreListed(t *testing.T) {
	p := trunkPolicy(t, nil)
	for _, tt := range []struct {
		use  Use
		uri  string
		want bool
	}{
		{AgentURI, "sip:+84987000111@sip.mobile.example", true},
		{AgentURI, "sip:+84987000111@sip.mobile.example:5999", true}, // the trunk names no port: every port
		{AgentURI, "sip:+84987000111@sip.city.example:5999", false},  // city's port is 5080
		{Contact, "sip:lan@sip.city.example:5080", false},            // a name may not point at a trunk
		{Contact, "sip:lan@sbc.world.example", false},                // nor at its proxy
		{Contact, "sip:+84912345678@sbc.world.example", true},
		{Transfer, "sip:+88190000000@203.0.113.5", false}, // not allowed
	} {
		_, err := p.CheckURI(tt.use, tt.uri)
		if (err == nil) != tt.want {
			t.Errorf("%s %s: %v, want allowed %v", tt.use, tt.uri, err, tt.want)
		}
	}
}

func TestTrunkConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		trunks []config.Trunk
		want   string
	}{
		{[]config.Trunk{{Name: "a", Host: "p.example", CallerID: "12", Default: true}}, `trunks[0].caller_id: "12" is not a telephone number`},
		{[]config.Trunk{{Name: "a", Host: "p.example", CallerID: "+842838001234", Numbers: []string{"028*"}}}, `trunks[0].numbers[0]: "028*": a prefix must be in E.164 form`},
		{[]config.Trunk{{Name: "a", Host: "p.example", CallerID: "+842838001234", Default: true},
			{Name: "b", Host: "P.example:5060", CallerID: "+842838001234", Default: true}}, `trunks[1].host: "P.example:5060" is also the host of trunk a (trunks[0])`},
		{[]config.Trunk{{Name: "a", Host: "p_bad", CallerID: "+842838001234", Default: true}}, `trunks[0].host`},
	} {
		_, err := New(Config{DefaultCountry: "VN", Trunks: tt.trunks})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New = %v, want %q", err, tt.want)
		}
	}
	// Two trunks on one host but different ports are two accounts.
	if _, err := New(Config{DefaultCountry: "VN", Trunks: []config.Trunk{
		{Name: "a", Host: "p.example:5060", CallerID: "+842838001234", Default: true},
		{Name: "b", Host: "p.example:5080", CallerID: "+842838001234", Default: true}}}); err != nil {
		t.Errorf("ports tell them apart: %v", err)
	}
}
