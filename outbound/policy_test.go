package outbound

import (
	"errors"
	"strings"
	"testing"

	"github.com/hotline-dev/hotline/config"
)

func testPolicy(t *testing.T) *Policy {
	t.Helper()
	p, err := New(Config{
		Allow: config.Allow{
			Numbers:    []string{"+842838001234", "+8428*", "0912 345 678"},
			Extensions: []string{"100-199", "2001"},
			Hosts:      []string{"trunk.example", "PBX.Example:5070", "192.0.2.10", "[2001:db8::10]:5060", "2001:db8::20"},
		},
		Agents:         []config.Agent{{ID: "a1", Username: "lan"}, {ID: "a2", Username: "1001"}, {ID: "static"}},
		DefaultCountry: "VN",
		Domains:        []string{"hotline", "192.0.2.1", ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// check runs one URI through the policy: want is the URI to dial ("" for
// a refusal, "own" for Target.Own).
type uriCase struct {
	name, uri, want string
	kind            Kind
}

func runURICases(t *testing.T, p *Policy, use Use, cases []uriCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.CheckURI(use, tt.uri)
			if tt.want == "" {
				if err == nil || !errors.Is(err, ErrRefused) {
					t.Fatalf("CheckURI(%s, %q) = %+v, %v; want refused", use, tt.uri, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckURI(%s, %q): %v", use, tt.uri, err)
			}
			if got.URI != tt.want || got.Kind != tt.kind {
				t.Fatalf("CheckURI(%s, %q) = %q (%s), want %q (%s)", use, tt.uri, got.URI, got.Kind, tt.want, tt.kind)
			}
		})
	}
}

// TestContact: what an agent's phone may register (and the ringer dial).
func TestContact(t *testing.T) {
	p := testPolicy(t)
	runURICases(t, p, Contact, []uriCase{
		{"baresip contact on a LAN", "sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp", "sip:lan-0x5586d4800230@127.0.0.1:41905;transport=udp", KindName},
		{"agent username", "sip:1001@10.0.0.5:5062", "sip:1001@10.0.0.5:5062", KindExtension},
		{"escaped username", "sip:l%61n@10.0.0.5", "sip:l%61n@10.0.0.5", KindExtension},
		{"username then a suffix", "sip:1001-0x55aa@10.0.0.5", "sip:1001-0x55aa@10.0.0.5", KindName},
		{"extension range", "sip:150@10.0.0.5", "sip:150@10.0.0.5", KindExtension},
		{"no user part", "sip:10.0.0.5:5062", "sip:10.0.0.5:5062", KindNone},
		{"IPv6 phone", "sip:lan-1@[2001:db8::99]:5062", "sip:lan-1@[2001:db8::99]:5062", KindName},
		{"allowed number on the trunk", "sip:+842838001234@trunk.example", "sip:+842838001234@trunk.example", KindNumber},
		{"national form dialled as E.164", "sip:02838001234@trunk.example", "sip:+842838001234@trunk.example", KindNumber},
		{"separators and user=phone", "sip:+84-28-3800-1234@trunk.example;user=phone", "sip:+842838001234@trunk.example;user=phone", KindNumber},
		{"allowed mobile on a LAN host", "sip:0912345678@10.0.0.5", "sip:+84912345678@10.0.0.5", KindNumber},
		{"extension on the PBX port", "sip:2001@pbx.example:5070", "sip:2001@pbx.example:5070", KindExtension},
		{"name on the PBX host, other port", "sip:lan-1@pbx.example", "sip:lan-1@pbx.example", KindName},
		{"sips to an IPv6 trunk's other port", "sips:lan-1@[2001:db8::10]", "sips:lan-1@[2001:db8::10]", KindName},

		{"premium number on the trunk", "sip:+88216000000@trunk.example", "", 0},
		{"premium number on any host", "sip:+88216000000@10.0.0.5", "", 0},
		{"premium number escaped", "sip:%2B88216000000@10.0.0.5", "", 0},
		{"premium number, international prefix", "sip:0088216000000@10.0.0.5", "", 0},
		{"premium number with separators", "sip:+882-1600-0000@10.0.0.5", "", 0},
		{"number then letters", "sip:88216000000abc@10.0.0.5", "", 0},
		{"emergency code then letters", "sip:911x@10.0.0.5", "", 0},
		{"short code", "sip:911@10.0.0.5", "", 0},
		{"feature code", "sip:*11@10.0.0.5", "", 0},
		{"plus inside", "sip:2+001@10.0.0.5", "", 0},
		{"number not allowed", "sip:+8427123456@10.0.0.5", "", 0},
		{"range is exact length", "sip:1500@10.0.0.5", "", 0},
		{"agent username on the trunk", "sip:lan@trunk.example", "sip:lan@trunk.example", KindExtension},
		{"name on the trunk", "sip:desk@trunk.example", "", 0},
		{"name on the trunk, upper case and dot", "sip:lan-1@TRUNK.Example.", "", 0},
		{"name on the trunk, other port", "sip:lan-1@trunk.example:5999", "", 0},
		{"name on the PBX port", "sip:lan-1@pbx.example:5070", "", 0},
		{"no user on the trunk", "sip:trunk.example", "", 0},
		{"sips to the trunk", "sips:lan-1@trunk.example", "", 0},
		{"premium over sips", "sips:+88216000000@10.0.0.5", "", 0},
		{"IPv6 trunk, default port", "sip:lan-1@[2001:db8::10]", "", 0},
		{"IPv6 trunk, non-canonical", "sip:lan-1@[2001:DB8:0::20]:7000", "", 0},
		{"IPv4-mapped trunk", "sip:lan-1@[::ffff:192.0.2.10]", "", 0},
		{"phone-context in the user part", "sip:1234;phone-context=+882@10.0.0.5", "", 0},
		{"escaped phone-context", "sip:1234%3Bphone-context=%2B882@10.0.0.5", "", 0},
		{"isub on an allowed number", "sip:+842838001234;isub=1@trunk.example", "", 0},
		{"question mark in the user part", "sip:lan?x@10.0.0.5", "", 0},
		{"URI headers", "sip:lan@10.0.0.5?Subject=hi", "", 0},
		{"user=phone with a name", "sip:lan@10.0.0.5;user=phone", "", 0},
		{"user=phone without user", "sip:10.0.0.5;user=phone", "", 0},
		{"password", "sip:lan:pw@10.0.0.5", "", 0},
		{"two at signs", "sip:lan@trunk.example@10.0.0.5", "", 0},
		{"empty userinfo", "sip:@10.0.0.5", "", 0},
		{"at sign in params", "sip:@0A00;000000@000000", "", 0},
		{"escape to NUL", "sip:lan%00@10.0.0.5", "", 0},
		{"escape to space", "sip:la%20n@10.0.0.5", "", 0},
		{"truncated escape", "sip:lan%2@10.0.0.5", "", 0},
		{"non-ASCII", "sip:lán@10.0.0.5", "", 0},
		{"overlong user part", "sip:" + strings.Repeat("a", 65) + "@10.0.0.5", "", 0},
		{"overlong URI", "sip:lan@" + strings.Repeat("a.", 300) + "example", "", 0},
		{"overlong number", "sip:+8428" + strings.Repeat("1", 20) + "@trunk.example", "", 0},
		{"tel URI", "tel:+84912345678", "", 0},
		{"no scheme", "lan@10.0.0.5", "", 0},
		{"leading-zero IPv4", "sip:lan@0127.0.0.1", "", 0},
		{"decimal IPv4", "sip:lan@3232235777", "", 0},
		{"IPv6 zone", "sip:lan@[fe80::1%25eth0]", "", 0},
		{"bad host", "sip:lan@-bad-.example", "", 0},
		{"empty", "", "", 0},
	})
}

// TestAgentURI: a static agents[].uri must be on an allow-listed host.
func TestAgentURI(t *testing.T) {
	p := testPolicy(t)
	runURICases(t, p, AgentURI, []uriCase{
		{"desk phone on an allowed host", "sip:desk@192.0.2.10:5070;transport=udp", "sip:desk@192.0.2.10:5070;transport=udp", KindName},
		{"extension on the PBX", "sip:150@PBX.example:5070", "sip:150@PBX.example:5070", KindExtension},
		{"allowed number on the trunk", "sip:028 3800 1234@trunk.example", "", 0}, // space: not a URI
		{"allowed number, national", "sip:02838001234@trunk.example", "sip:+842838001234@trunk.example", KindNumber},
		{"host not allowed", "sip:desk@evil.example", "", 0},
		{"suffix trick", "sip:desk@trunk.example.evil.example", "", 0},
		{"prefix trick", "sip:desk@eviltrunk.example", "", 0},
		{"PBX on another port", "sip:150@pbx.example", "", 0},
		{"not an extension", "sip:200@trunk.example", "", 0},
		{"premium", "sip:+88216000000@trunk.example", "", 0},
		{"Hotline itself", "sip:desk@hotline", "", 0},
	})
}

// TestTransfer: a REFER target (decoded parts, as sip.Refer has them).
func TestTransfer(t *testing.T) {
	p := testPolicy(t)
	for _, tt := range []struct {
		name string
		a    Address
		want string // URI, "own", or "" refused
	}{
		{"extension on the PBX", Address{User: "2001", Host: "pbx.example", Port: 5070}, "sip:2001@pbx.example:5070"},
		{"number on the trunk", Address{User: "+842838001234", Host: "trunk.example"}, "sip:+842838001234@trunk.example"},
		{"national number dialled as E.164", Address{User: "028.3800.1234", Host: "trunk.example"}, "sip:+842838001234@trunk.example"},
		{"number on IPv6 trunk", Address{User: "+842838001234", Host: "[2001:db8::10]"}, "sip:+842838001234@[2001:db8::10]"},
		{"extension on Hotline", Address{User: "2001", Host: "hotline"}, "own"},
		{"agent on Hotline", Address{User: "lan", Host: "HOTLINE"}, "own"},
		{"number on Hotline's address", Address{User: "+842838001234", Host: "192.0.2.1", Port: 5080}, "own"},
		{"not a possible number", Address{User: "+84281", Host: "192.0.2.1"}, ""},
		{"extension on another host", Address{User: "2001", Host: "evil.example"}, ""},
		{"name", Address{User: "billing", Host: "hotline"}, ""},
		{"empty user", Address{Host: "trunk.example"}, ""},
		{"number not allowed", Address{User: "+19005550100", Host: "trunk.example"}, ""},
		{"prefix is not a match", Address{User: "+8427", Host: "trunk.example"}, ""},
		{"PBX on the default port", Address{User: "2001", Host: "pbx.example"}, ""},
		{"plus inside", Address{User: "2+001", Host: "trunk.example"}, ""},
		{"too long", Address{User: "+8428" + "0123456789012345678901234567", Host: "trunk.example"}, ""},
		{"tel scheme", Address{Scheme: "tel", User: "+842838001234", Host: "trunk.example"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Check(Transfer, tt.a)
			switch {
			case tt.want == "" && !errors.Is(err, ErrRefused):
				t.Fatalf("Check = %+v, %v; want refused", got, err)
			case tt.want == "":
			case err != nil:
				t.Fatalf("Check: %v", err)
			case tt.want == "own" && (!got.Own || got.URI != ""):
				t.Fatalf("Check = %+v, want Own", got)
			case tt.want != "own" && got.URI != tt.want:
				t.Fatalf("Check = %+v, want URI %q", got, tt.want)
			}
		})
	}
}

func TestCheckNumber(t *testing.T) {
	p := testPolicy(t)
	for _, tt := range []struct{ in, want string }{
		{"0912 345 678", "+84912345678"},
		{"+84 28 3800 9999", "+842838009999"},
		{"tel:+842838001234", ""}, // a number, not a URI
		{"+88216000000", ""},
		{"1900 1234", ""},
		{"abc", ""},
		{"", ""},
		{strings.Repeat("9", 70), ""},
	} {
		got, err := p.CheckNumber(tt.in)
		if got != tt.want || (tt.want == "") != errors.Is(err, ErrRefused) {
			t.Errorf("CheckNumber(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestNilPolicy: without a policy nothing but names is dialled.
func TestNilPolicy(t *testing.T) {
	var p *Policy
	if _, err := p.CheckURI(Contact, "sip:lan-0x1@127.0.0.1:5062"); err != nil {
		t.Errorf("name contact: %v", err)
	}
	for _, c := range []struct {
		use Use
		uri string
	}{{Contact, "sip:1001@127.0.0.1"}, {AgentURI, "sip:desk@127.0.0.1"}, {Transfer, "sip:2001@hotline"}} {
		if _, err := p.CheckURI(c.use, c.uri); !errors.Is(err, ErrRefused) {
			t.Errorf("%s %s: %v, want refused", c.use, c.uri, err)
		}
	}
	if _, err := p.CheckNumber("+84912345678"); !errors.Is(err, ErrRefused) {
		t.Errorf("number: %v", err)
	}
	if p.Warnings() != nil {
		t.Error("warnings from nil policy")
	}
}

// TestPatternErrors: every invalid entry is reported, naming its key and
// index; from a file, its line (TestLoadNamesLine).
func TestPatternErrors(t *testing.T) {
	for _, tt := range []struct {
		allow config.Allow
		want  string
	}{
		{config.Allow{Numbers: []string{"1*"}}, `allow.numbers[0]: "1*": a prefix must be in E.164 form`},
		{config.Allow{Numbers: []string{"+8428*", "028*"}}, `allow.numbers[1]: "028*"`},
		{config.Allow{Numbers: []string{"2001"}}, `allow.numbers[0]: "2001" is not a telephone number in E.164 or national`},
		{config.Allow{Numbers: []string{"+84*28"}}, `allow.numbers[0]: "+84*28" is not a telephone number`},
		{config.Allow{Numbers: []string{"+999*"}}, `no country calling code starts +999`},
		{config.Allow{Numbers: []string{"+abc*"}}, `allow.numbers[0]`},
		{config.Allow{Extensions: []string{"100-1999"}}, `allow.extensions[0]: "100-1999": both ends`},
		{config.Allow{Extensions: []string{"199-100"}}, `ends before it starts`},
		{config.Allow{Extensions: []string{"1xx"}}, `allow.extensions[0]: "1xx"`},
		{config.Allow{Extensions: []string{""}}, `allow.extensions[0]`},
		{config.Allow{Hosts: []string{"sip:trunk.example"}}, `allow.hosts[0]: "sip:trunk.example": list a host`},
		{config.Allow{Hosts: []string{"trunk.example:99999"}}, `port "99999"`},
		{config.Allow{Hosts: []string{"bad_host"}}, `allow.hosts[0]`},
		{config.Allow{Hosts: []string{"[::1"}}, `unterminated`},
		{config.Allow{Hosts: []string{"0127.0.0.1"}}, `allow.hosts[0]`},
	} {
		_, err := New(Config{Allow: tt.allow, DefaultCountry: "VN"})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want error containing %q", tt.allow, err, tt.want)
		}
	}
}

func TestShortPrefixWarnings(t *testing.T) {
	p, err := New(Config{Allow: config.Allow{Numbers: []string{"+84*", "+8*", "+843*", "+882*", "+1*", "+1900*"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.Warnings(), "\n")
	for _, want := range []string{`allow.numbers[0]: "+84*" allows every number of country calling code +84`,
		`allow.numbers[1]: "+8*" is shorter than a country calling code`, `allow.numbers[3]: "+882*"`, `allow.numbers[4]: "+1*"`} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings %q lack %q", got, want)
		}
	}
	if n := len(p.Warnings()); n != 4 {
		t.Errorf("%d warnings, want 4 (+843* and +1900* fix digits past the country code): %q", n, got)
	}
}

// TestLoadNamesLine: an invalid allow entry in a file is an error naming
// the file and line; warnings do too.
func TestLoadNamesLine(t *testing.T) {
	c, err := config.Load("testdata/badallow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Allow: c.Allow, DefaultCountry: c.Phone.DefaultCountry})
	for _, want := range []string{`allow.numbers[1] (testdata/badallow.yaml:6): "1*"`,
		`allow.extensions[1] (testdata/badallow.yaml:10): "20-2000"`, `allow.hosts[0] (testdata/badallow.yaml:12): "sip:trunk"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New = %v, want %q", err, want)
		}
	}
	c, err = config.Load("testdata/wideallow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Allow: c.Allow, DefaultCountry: c.Phone.DefaultCountry})
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0], `allow.numbers[1] (testdata/wideallow.yaml:4): "+84*"`) {
		t.Errorf("warnings %q", w)
	}
	if _, err := config.Load("testdata/unknownallow.yaml"); err == nil || !strings.Contains(err.Error(), "line 3: field prefixes not found") {
		t.Errorf("unknown allow key: %v", err)
	}
}
