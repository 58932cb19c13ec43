package outbound

import (
	"testing"

	"github.com/hotline-dev/hotline/config"
)

// TestExampleAllowList: the shipped example's allow-list compiles without
// a warning (no prefix that covers a country or more, extensions as exact
// ranges), its static agent URIs pass, and a premium number does not.
func TestExampleAllowList(t *testing.T) {
	for _, v := range []string{"HOTLINE_AGENT_LAN_PASSWORD", "HOTLINE_AGENT_MINH_PASSWORD", "HOTLINE_TOKEN_HELPDESK", "HOTLINE_TOKEN_WALLBOARD"} {
		t.Setenv(v, "example-secret")
	}
	c, err := config.Load("../hotline.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Allow: c.Allow, Agents: c.Agents, DefaultCountry: c.Phone.DefaultCountry})
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("the example warns: %q", w)
	}
	for _, a := range c.Agents {
		if a.URI == "" {
			continue
		}
		if _, err := p.CheckURI(AgentURI, a.URI); err != nil {
			t.Errorf("agent %s: %v", a.ID, err)
		}
	}
	for _, n := range []string{"19001234", "+19005550100", "+88216000000", "1"} {
		if _, err := p.CheckNumber(n); err == nil {
			t.Errorf("the example allows %s", n)
		}
	}
	if _, err := p.CheckNumber("0912 345 678"); err != nil {
		t.Errorf("a Vietnamese mobile: %v", err)
	}
}
