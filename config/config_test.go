package config

import (
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
		{"testdata/typo.yaml", "line 3: field max_cals not found"},
		{"testdata/badqueue.yaml", `queues.billing.strategy: "random"`},
		{"testdata/missing.yaml", "no such file"},
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
