package config

import (
	"os"
	"strings"
	"testing"
)

// TestStrategies: every strategy in the one list validates, the default is
// the first, and the configuration reference documents each.
func TestStrategies(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Strategies {
		c := Default()
		c.Queues = map[string]Queue{"q": Queue{Strategy: s}.WithDefaults()}
		if err := c.Validate(); err != nil {
			t.Errorf("strategy %s: %v", s, err)
		}
		if !strings.Contains(string(doc), "`"+string(s)+"`") {
			t.Errorf("docs/configuration.md does not name strategy %s", s)
		}
	}
	if got := (Queue{}).WithDefaults().Strategy; got != Strategies[0] {
		t.Errorf("default strategy %q, want %s (the first of Strategies)", got, Strategies[0])
	}
}
