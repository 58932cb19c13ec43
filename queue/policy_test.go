package queue

import (
	"testing"

	"github.com/hotline-dev/hotline/config"
	"github.com/hotline-dev/hotline/outbound"
)

// policyFor compiles an outbound policy for a test: allow plus the agents'
// usernames as extensions, numbers read in Vietnam, Hotline at "hotline".
func policyFor(t testing.TB, allow config.Allow, ags ...config.Agent) *outbound.Policy {
	t.Helper()
	p, err := outbound.New(outbound.Config{Allow: allow, Agents: ags, DefaultCountry: "VN", Domains: []string{"hotline", "192.0.2.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
