package outbound

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/config"
)

// FuzzCheckURI feeds arbitrary URIs to every use: never a panic, every
// answer is a Target or ErrRefused, and an allowed URI is stable: checking
// what it says to dial allows it again and dials the same thing.
func FuzzCheckURI(f *testing.F) {
	for _, s := range []string{
		"sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp", "sip:02838001234@trunk.example",
		"sip:+84-28-3800-1234@trunk.example;user=phone", "sip:%2B88216000000@10.0.0.5", "sips:lan@[2001:db8::10]",
		"sip:1234;phone-context=+882@10.0.0.5", "sip:lan@10.0.0.5?Subject=hi", "sip:lan:pw@h", "sip:a@b@c",
		"sip:lan@[::ffff:192.0.2.10]", "sip:150@PBX.example:5070", "sip:%zz@h", "sip:1001-0x55@10.0.0.5", "tel:+1",
	} {
		f.Add(s)
	}
	p, err := New(Config{
		Allow:  config.Allow{Numbers: []string{"+8428*", "0912345678"}, Extensions: []string{"100-199"}, Hosts: []string{"trunk.example", "pbx.example:5070", "[2001:db8::10]"}},
		Agents: []config.Agent{{ID: "a", Username: "lan"}}, DefaultCountry: "VN", Domains: []string{"hotline"},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, use := range []Use{Contact, AgentURI, Transfer} {
			tg, err := p.CheckURI(use, raw)
			if err != nil {
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("%s %q: error %v does not wrap ErrRefused", use, raw, err)
				}
				continue
			}
			if tg.Own {
				continue
			}
			again, err := p.CheckURI(use, tg.URI)
			if err != nil || again.URI != tg.URI {
				t.Fatalf("%s %q allowed as %q, which re-checks as %+v, %v", use, raw, tg.URI, again, err)
			}
			if tg.Kind == KindNumber && !strings.HasPrefix(tg.E164, "+") {
				t.Fatalf("%s %q: number without E.164 form: %+v", use, raw, tg)
			}
		}
	})
}

// FuzzNew feeds arbitrary allow-list entries to the compiler: never a
// panic, only ErrConfig errors.
func FuzzNew(f *testing.F) {
	for _, s := range []string{"+8428*", "1*", "0912 345 678", "100-199", "trunk.example:5060", "[::1]:5", "+84*", "+999*", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		for _, a := range []config.Allow{{Numbers: []string{entry}}, {Extensions: []string{entry}}, {Hosts: []string{entry}}} {
			if _, err := New(Config{Allow: a, DefaultCountry: "VN"}); err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("%+v: %v", a, err)
			}
		}
	})
}

// FuzzCheckDial feeds arbitrary numbers and URIs to CheckDial: never a
// panic, every refusal a *RefusedError wrapping ErrRefused, every grant on
// a trunk a dialable user part, and once released no call counted.
func FuzzCheckDial(f *testing.F) {
	for _, s := range []string{"0912 345 678", "+8419001234", "+88216000000", "1234#", "sip:+84912345678@sip.p.example",
		"sip:desk@pbx.example", "sip:+84912345678@sip.p.example;user=phone", "sip:%2B84912345678@sip.p.example", "", "+", "tel:+84912345678"} {
		f.Add(s)
	}
	p, err := New(Config{
		Allow:          config.Allow{Numbers: []string{"+84*", "+1*"}, Hosts: []string{"pbx.example"}},
		DefaultCountry: "VN",
		Trunks: []config.Trunk{{Name: "p", Host: "sip.p.example", CallerID: "+842838001234", NumberFormat: config.FormatNational,
			Prefix: "9#", Numbers: []string{"+84*"}, PassCallerID: true}},
		Limits: config.Outbound{MaxPerNumberPerHour: -1, MaxPerSourcePerHour: -1, MaxPerDay: -1},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range []Dial{{Number: s, Caller: s, Source: s}, {URI: s, Caller: s}} {
			g, err := p.CheckDial(d)
			if err != nil {
				var re *RefusedError
				if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || re.Reason == "" {
					t.Fatalf("%+v: %v is not a RefusedError", d, err)
				}
				continue
			}
			// Release before judging: the policy outlives this input, and a
			// leaked slot would be blamed on the next one.
			g.Release()
			if g.Trunk != nil && (g.User == "" || strings.ContainsAny(g.User+g.CallerID, "\r\n\x00 <>\"@;?")) {
				t.Fatalf("%+v: grant %+v", d, g)
			}
		}
		if s := p.Stats(); s.Active != 0 {
			t.Fatalf("%d calls counted after release", s.Active)
		}
	})
}

// FuzzTrunkConfig feeds arbitrary trunks: and outbound: sections through
// config.Load and New: never a panic; config errors name their key, and
// New's wrap ErrConfig.
func FuzzTrunkConfig(f *testing.F) {
	for _, s := range []string{
		"trunks:\n  - name: a\n    host: sip.p.example:5060\n    caller_id: \"+842838001234\"\n    default: true\n",
		"trunks:\n  - name: a\n    host: \"[2001:db8::1]:5061\"\n    transport: tls\n    username: u\n    password: p\n    caller_id: \"028 3800 1234\"\n    numbers: [\"+84*\", \"0912345678\"]\n",
		"trunks:\n  - name: a\n    host: p.example\n    outbound_proxy: 192.0.2.1\n    caller_id: \"12\"\n    numbers: [\"028*\"]\n",
		"outbound:\n  block_prefixes: [\"+1900\", \"+882*\"]\n  block_types: [premium-rate]\n  max_per_day: -1\n",
		"trunks: [1, 2]\n", "trunks:\n  - {}\n", "outbound: []\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, yaml string) {
		path := filepath.Join(t.TempDir(), "hotline.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path)
		if err != nil {
			if !strings.Contains(err.Error(), "config") {
				t.Fatalf("error does not say config: %v", err)
			}
			return
		}
		if _, err := New(Config{Allow: c.Allow, Trunks: c.Trunks, Limits: c.Outbound, DefaultCountry: c.Phone.DefaultCountry}); err != nil && !errors.Is(err, ErrConfig) {
			t.Fatalf("New: %v", err)
		}
	})
}
