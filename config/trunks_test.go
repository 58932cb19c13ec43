package config

import (
	"strings"
	"testing"
)

func TestLoadTrunks(t *testing.T) {
	t.Setenv("HOTLINE_TEST_TRUNK_PW", "pw")
	c, err := Load("testdata/trunks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Trunks) != 2 {
		t.Fatalf("trunks %+v", c.Trunks)
	}
	v, ip := c.Trunks[0], c.Trunks[1]
	if v.Transport != "tcp" || v.NumberFormat != FormatNational || v.MaxCalls != 4 || !v.AssertID || v.OutboundProxy != "sbc.provider.example" {
		t.Errorf("viettel = %+v", v)
	}
	if ip.Transport != "udp" || ip.NumberFormat != FormatE164 || ip.MaxCalls != 10 || !ip.Default {
		t.Errorf("ip-auth defaults = %+v", ip)
	}
	if got := v.Where(0, "caller_id"); got != "trunks[0].caller_id (testdata/trunks.yaml:10)" {
		t.Errorf("Where = %q", got)
	}
	if got := v.Where(0, "numbers[0]"); got != "trunks[0].numbers[0] (testdata/trunks.yaml:14)" {
		t.Errorf("Where = %q", got)
	}
	if c.Outbound.MaxPerDay != 200 || c.Outbound.MaxCalls != 30 || c.Outbound.MaxPerNumberPerHour != 6 {
		t.Errorf("outbound = %+v", c.Outbound)
	}
	if strings.Join(c.Outbound.BlockPrefixes, ",") != "+1900,+882*" || len(c.Outbound.BlockTypes) != 3 {
		t.Errorf("a file's block_prefixes replace the defaults; types keep theirs: %+v", c.Outbound)
	}
	if err := c.CheckSecrets(); err != nil {
		t.Errorf("CheckSecrets: %v", err)
	}
	t.Setenv("HOTLINE_TEST_TRUNK_PW", "")
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "trunks[0].password (testdata/trunks.yaml:9): env:HOTLINE_TEST_TRUNK_PW is not set") {
		t.Errorf("CheckSecrets without the password: %v", err)
	}
}

func TestOutboundDefaults(t *testing.T) {
	c := Default()
	if len(c.Outbound.BlockPrefixes) != len(DefaultBlockPrefixes) || c.Outbound.MaxPerDay != 1000 || c.Outbound.AlarmPercent != 80 {
		t.Errorf("defaults %+v", c.Outbound)
	}
	c.Outbound = Outbound{BlockPrefixes: []string{}, MaxCalls: -1}
	c.fill()
	if len(c.Outbound.BlockPrefixes) != 0 || c.Outbound.MaxCalls != -1 {
		t.Errorf("an empty list and a negative limit are kept: %+v", c.Outbound)
	}
}

func TestTrunkErrors(t *testing.T) {
	ok := Trunk{Name: "p", Host: "sip.provider.example", CallerID: "+842838001234", Default: true}
	for _, tc := range []struct {
		mod  func(*Trunk)
		want string
	}{
		{func(t *Trunk) { t.Name = "" }, `trunks[0].name: "": a trunk needs a name`},
		{func(t *Trunk) { t.Name = "a b" }, `trunks[0].name`},
		{func(t *Trunk) { t.Host = "" }, `trunks[0].host: empty`},
		{func(t *Trunk) { t.Host = "sip:p.example" }, `not a URI`},
		{func(t *Trunk) { t.Host = "p.example:99999" }, `port "99999"`},
		{func(t *Trunk) { t.Host = "2001:db8::1" }, `in brackets`},
		{func(t *Trunk) { t.Host = "bad_host" }, `not a valid host name`},
		{func(t *Trunk) { t.Transport = "sctp" }, `trunks[0].transport: "sctp"`},
		{func(t *Trunk) { t.OutboundProxy = "a@b" }, `trunks[0].outbound_proxy`},
		{func(t *Trunk) { t.Username = "u" }, `trunks[0].password: empty`},
		{func(t *Trunk) { t.Username, t.Password = "u", "env:" }, `names no environment variable`},
		{func(t *Trunk) { t.Password = "x" }, `set without a username`},
		{func(t *Trunk) { t.Username, t.Password = "a b", "x" }, `trunks[0].username`},
		{func(t *Trunk) { t.FromUser = "a\r\nb" }, `trunks[0].from_user`},
		{func(t *Trunk) { t.FromDomain = "p.example:5060" }, `trunks[0].from_domain`},
		{func(t *Trunk) { t.CallerID = "" }, `trunks[0].caller_id: empty`},
		{func(t *Trunk) { t.CallerName = `a"b` }, `trunks[0].caller_name`},
		{func(t *Trunk) { t.NumberFormat = "e.164" }, `trunks[0].number_format: "e.164"`},
		{func(t *Trunk) { t.Prefix = "9a" }, `trunks[0].prefix`},
		{func(t *Trunk) { t.Default = false }, `trunks[0].numbers: empty and the trunk is not the default`},
	} {
		tr := ok
		tc.mod(&tr)
		err := validateTrunks([]Trunk{tr.WithDefaults()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tr, err, tc.want)
		}
	}
	if err := validateTrunks([]Trunk{ok.WithDefaults(), ok.WithDefaults()}); err == nil || !strings.Contains(err.Error(), `trunks[1].name: "p" is also the name of trunks[0]`) {
		t.Errorf("duplicate name: %v", err)
	}
	if err := validateTrunks([]Trunk{ok.WithDefaults()}); err != nil {
		t.Errorf("valid trunk: %v", err)
	}
}

func TestTrunkAndOutboundFileErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"testdata/badtrunk.yaml", `trunks[1].transport (testdata/badtrunk.yaml:8): "sctp" is not udp, tcp or tls`},
		{"testdata/badtrunkkey.yaml", `line 3: field hots not found in type config.Trunk`},
		{"testdata/badblock.yaml", `outbound.block_prefixes[1] (testdata/badblock.yaml:4): "1900" is not an E.164 prefix`},
	} {
		_, err := Load(tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want %q", tc.file, err, tc.want)
		}
	}
}
