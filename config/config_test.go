package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatalf("Load(\"\"): %v", err)
	}
	if c.SIP.UDP != "127.0.0.1:5060" || c.HTTP.Addr != "127.0.0.1:8080" {
		t.Errorf("listen defaults = %q %q", c.SIP.UDP, c.HTTP.Addr)
	}
	if c.Database.URL != "sqlite:./var/hotline.db" {
		t.Errorf("database default = %q", c.Database.URL)
	}
	for _, q := range []string{"technical", "sales", "operator"} {
		if c.Queues[q].RingTimeout != 15*time.Second {
			t.Errorf("queue %s ring timeout = %v, want default 15s", q, c.Queues[q].RingTimeout)
		}
	}
}

func TestLoadFile(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_PW", "s3cret")
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.SIP.UDP != "127.0.0.1:5070" || c.SIP.MaxCalls != 10 {
		t.Errorf("sip = %+v", c.SIP)
	}
	if c.SIP.TCP != "127.0.0.1:5060" {
		t.Errorf("unset key lost its default: tcp = %q", c.SIP.TCP)
	}
	if _, ok := c.Queues["technical"]; ok {
		t.Error("a file's queues must replace the demo queues, not merge with them")
	}
	if q := c.Queues["billing"]; q.Strategy != "round-robin" || q.WrapUp != 0 || q.MaxLength != 100 {
		t.Errorf("billing = %+v", q)
	}
	if _, ok := c.Lookups["order-status"]; !ok {
		t.Error("lookups absent from the file must keep the demo lookup")
	}
	if got := Secret(c.Agents[0].Password); got != "s3cret" {
		t.Errorf("Secret(env:) = %q", got)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"testdata/typo.yaml", "testdata/typo.yaml:3:3: field max_cals not found in type config.SIP"},
		{"testdata/badindent.yaml", "testdata/badindent.yaml:4:7: mapping values are not allowed in this context"},
		{"testdata/badqueue.yaml", `queues.billing.strategy: "random"`},
		{"testdata/missing.yaml", "no such file"},
		{"testdata/badcalendar.yaml", `calendars.office.hours.mon: invalid calendar: "25:00-26:00"`},
		{"testdata/badlookup.yaml", `lookups.orders.method: "DELETE" is not GET or POST`},
		{"testdata/badlookupurl.yaml", `lookups.orders.url: "orders.example/{order}" is not an http:// or https:// URL`},
	} {
		_, err := Load(tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "config") {
			t.Errorf("Load(%s) = %v, want error containing %q", tc.file, err, tc.want)
		}
	}
}

func TestEnvOverridesDatabase(t *testing.T) {
	t.Setenv("HOTLINE_DATABASE_URL", "postgres://127.0.0.1/test")
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.URL != "postgres://127.0.0.1/test" {
		t.Errorf("url = %q", c.Database.URL)
	}
}

// Secrets are the server's business: Load (used by migrate and flows check)
// does not need them, CheckSecrets (used by serve) names the one missing.
func TestSecretsAreCheckedOnlyOnDemand(t *testing.T) {
	t.Setenv("HOTLINE_TEST_AGENT_PW", "")
	c, err := Load("testdata/secrets.yaml")
	if err != nil {
		t.Fatalf("Load with unset secrets: %v", err)
	}
	err = c.CheckSecrets()
	if err == nil || !strings.Contains(err.Error(), "http.tokens[0].secret: env:HOTLINE_TEST_UNSET_TOKEN is not set") {
		t.Errorf("CheckSecrets = %v", err)
	}
	t.Setenv("HOTLINE_TEST_UNSET_TOKEN", "x")
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "agents[0].password: env:HOTLINE_TEST_AGENT_PW") {
		t.Errorf("CheckSecrets = %v, want the agent password named", err)
	}
	t.Setenv("HOTLINE_TEST_AGENT_PW", "pw")
	if err := c.CheckSecrets(); err != nil {
		t.Errorf("CheckSecrets with everything set: %v", err)
	}
	c.HTTP.Tokens[0].Secret = "env:"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "http.tokens[0].secret: empty") {
		t.Errorf("Validate of an empty env: name = %v", err)
	}
}

func TestSelfURL(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"127.0.0.1:41234", "http://127.0.0.1:41234"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000"},
		{":9000", "http://127.0.0.1:9000"},
		{"[::]:9000", "http://[::1]:9000"},
		{"[::1]:9000", "http://[::1]:9000"},
		{"localhost:8081", "http://localhost:8081"},
		{"192.0.2.7:80", "http://192.0.2.7:80"},
	} {
		if got := SelfURL(tc.addr); got != tc.want {
			t.Errorf("SelfURL(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// The demo lookup is a path on Hotline's own listener, so it follows
// http.addr (issue: moving the port made every order "not found").
func TestDemoLookupFollowsTheHTTPListener(t *testing.T) {
	c := Default()
	if got := c.Lookups["order-status"].URL; got != DemoOrdersURL {
		t.Fatalf("default order-status URL = %q, want the path %q", got, DemoOrdersURL)
	}
	c.Lookups["shop"] = Lookup{URL: "https://shop.example/orders/{order}"}
	got := ResolveLookups(c.Lookups, SelfURL("0.0.0.0:9090"))
	if got["order-status"].URL != "http://127.0.0.1:9090/demo/orders/{order}" {
		t.Errorf("resolved demo URL = %q", got["order-status"].URL)
	}
	if got["shop"].URL != "https://shop.example/orders/{order}" {
		t.Errorf("an absolute URL changed: %q", got["shop"].URL)
	}
	if c.Lookups["order-status"].URL != DemoOrdersURL {
		t.Error("ResolveLookups changed its input")
	}
	for _, bad := range []string{"//evil.example/x", "ftp://x/y", "orders/{order}", ""} {
		if err := (Lookup{URL: bad}).validate(); err == nil {
			t.Errorf("lookup URL %q accepted", bad)
		}
	}
}

// The shipped example configuration loads as it is (with its secrets
// exported) and its order lookup is the demo service.
func TestExampleConfigLoads(t *testing.T) {
	for _, v := range []string{"HOTLINE_TOKEN_HELPDESK", "HOTLINE_TOKEN_WALLBOARD", "HOTLINE_AGENT_LAN_PASSWORD", "HOTLINE_AGENT_MINH_PASSWORD"} {
		t.Setenv(v, "x")
	}
	c, err := Load("../hotline.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSecrets(); err != nil {
		t.Fatal(err)
	}
	if got := c.Lookups["order-status"].URL; got != DemoOrdersURL {
		t.Errorf("example order-status URL = %q, want the demo service %q", got, DemoOrdersURL)
	}
}

func TestTrustedAndEdgeDefaults(t *testing.T) {
	c := Default()
	if c.HTTP.ReadTimeout != 30*time.Second || c.HTTP.MaxConnsPerSource != 64 || c.HTTP.MaxHeaderBytes != 64<<10 {
		t.Errorf("http defaults %+v", c.HTTP)
	}
	c.SIP.Trusted = []string{"10.0.0.5", "192.0.2.0/24"}
	p, err := c.SIP.TrustedPrefixes()
	if err != nil || len(p) != 2 || p[0].String() != "10.0.0.5/32" || p[1].String() != "192.0.2.0/24" {
		t.Fatalf("trusted %v %v", p, err)
	}
	c.SIP.Trusted = []string{"kamailio.local"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "sip.trusted[0]") {
		t.Fatalf("Validate = %v, want the key named", err)
	}
}

// TestAgentPasswords: an agent whose phone could register with an empty
// password stops `serve` (Validate, then CheckSecrets), naming the agent and
// the variable; a missing variable does not stop Load (migrate, flows check).
func TestAgentPasswords(t *testing.T) {
	t.Setenv("HOTLINE_TEST_EMPTY_PW", "")
	t.Setenv("HOTLINE_TEST_SET_PW", "s3cret")
	for _, tc := range []struct {
		agent Agent
		want  string // "" valid
	}{
		{Agent{ID: "lan", Username: "lan", Password: "env:HOTLINE_TEST_SET_PW"}, ""},
		{Agent{ID: "lan", Username: "lan", Password: "plain"}, ""},
		{Agent{ID: "desk", URI: "sip:desk@127.0.0.1"}, ""}, // no SIP account: no password needed
		{Agent{ID: "lan", Username: "lan", Password: "env:HOTLINE_TEST_EMPTY_PW"}, `agents[0].password: env:HOTLINE_TEST_EMPTY_PW is not set in the environment (agent lan, username "lan"`},
		{Agent{ID: "lan", Username: "lan", Password: "env:HOTLINE_TEST_UNSET_PW"}, "env:HOTLINE_TEST_UNSET_PW is not set"},
		{Agent{ID: "lan", Username: "lan", Password: "env:"}, "names no environment variable"},
		{Agent{ID: "lan", Username: "lan"}, "agents[0].password: agent lan (username \"lan\"): empty"},
	} {
		c := Default()
		c.Agents = []Agent{tc.agent}
		c.Agents[0].Queues = map[string]int{"technical": 0}
		err := c.Validate()
		if err == nil {
			err = c.CheckSecrets()
		}
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: Validate+CheckSecrets = %v, want %q", tc.agent, err, tc.want)
		}
	}
	// From a file: Load accepts the unset variable, CheckSecrets refuses it.
	t.Setenv("HOTLINE_TEST_AGENT_PW", "")
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load with the agent's password unset: %v", err)
	}
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "agents[0].password") {
		t.Errorf("CheckSecrets with the agent's password unset: %v", err)
	}
}

func TestAdminTokenFile(t *testing.T) {
	for _, tc := range []struct {
		spool, file, want string
	}{
		{"", "", filepath.Join("var", "admin-token")},
		{"./var/spool", "", filepath.Join("var", "admin-token")},
		{"/srv/hotline/spool/", "", "/srv/hotline/admin-token"},
		{"/srv/hotline/spool", "/etc/hotline/token", "/etc/hotline/token"},
	} {
		var c Config
		c.Database.SpoolDir, c.HTTP.TokenFile = tc.spool, tc.file
		if got := c.AdminTokenFile(); got != tc.want {
			t.Errorf("spool %q token_file %q: %q, want %q", tc.spool, tc.file, got, tc.want)
		}
	}
}

// A token bound to an agent: the agent must exist and the scope must be
// agent's (or left out); the error names http.tokens[i].agent or .scope.
func TestAgentTokens(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token Token
		want  string // "" valid
	}{
		{"agent token", Token{Name: "lan-desk", Secret: "s", Agent: "lan", Scope: "agent"}, ""},
		{"scope left out", Token{Name: "lan-desk", Secret: "s", Agent: "lan"}, ""},
		{"read token", Token{Name: "board", Secret: "s", Scope: "read"}, ""},
		{"unknown agent", Token{Secret: "s", Agent: "nobody", Scope: "agent"}, `http.tokens[1].agent: "nobody" is not an agent of agents:`},
		{"write scope with an agent", Token{Secret: "s", Agent: "lan", Scope: "write"}, `http.tokens[1].agent: a token bound to agent "lan" has scope agent (or none), not "write"`},
		{"read scope with an agent", Token{Secret: "s", Agent: "lan", Scope: "read"}, `http.tokens[1].agent: a token bound to agent "lan" has scope agent (or none), not "read"`},
		{"agent scope without an agent", Token{Secret: "s", Scope: "agent"}, "http.tokens[1].agent: required with scope agent"},
		{"no scope, no agent", Token{Secret: "s"}, `http.tokens[1].scope: "" is not read, write or agent`},
		{"empty secret", Token{Agent: "lan"}, "http.tokens[1].secret: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Agents = []Agent{{ID: "lan", Username: "2001", Password: "pw", Queues: map[string]int{"technical": 0}}}
			c.HTTP.Tokens = []Token{{Name: "admin", Secret: "a", Scope: "write"}, tc.token}
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	if got := (Token{Agent: "lan"}).TokenScope(); got != ScopeAgent {
		t.Errorf("TokenScope of an agent token without scope = %q", got)
	}
}
