package config

import (
	"strings"
	"testing"
)

func TestWebhookValidation(t *testing.T) {
	long := strings.Repeat("k", 32)
	for _, tc := range []struct {
		name string
		w    Webhook
		want string // "" = valid
	}{
		{"desk", Webhook{URL: "https://desk.example/hooks", Secret: long, Events: []string{"call.ended", "ticket.created"}}, ""},
		{"all", Webhook{URL: "http://127.0.0.1:9000/", Secret: "env:HOTLINE_TEST_WH", Events: []string{"*"}}, ""},
		{"desk", Webhook{URL: "ftp://desk.example", Secret: long}, `webhooks.desk.url: "ftp://desk.example" is not an http or https URL`},
		{"desk", Webhook{URL: "https://u:p@desk.example", Secret: long}, "webhooks.desk.url: credentials in the URL"},
		{"desk", Webhook{URL: "https://desk.example", Secret: "short"}, "webhooks.desk.secret: 5 bytes, need at least 32"},
		{"desk", Webhook{URL: "https://desk.example"}, "webhooks.desk.secret: empty"},
		{"desk", Webhook{URL: "https://desk.example", Secret: long, Events: []string{"call.ended", "call.exploded"}}, `webhooks.desk.events[1]: "call.exploded" is not an event type`},
		{"Desk!", Webhook{URL: "https://desk.example", Secret: long}, "webhooks.Desk!: a name is"},
		{"wh_1", Webhook{URL: "https://desk.example", Secret: long}, "not starting wh_"},
	} {
		c := Default()
		c.Webhooks = map[string]Webhook{tc.name: tc.w}
		err := c.Validate()
		if tc.want == "" && err != nil {
			t.Errorf("%s %+v: %v", tc.name, tc.w, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s %+v: %v, want %q", tc.name, tc.w, err, tc.want)
		}
	}
}

func TestWebhookEnvSecret(t *testing.T) {
	c := Default()
	c.Webhooks = map[string]Webhook{"desk": {URL: "https://desk.example", Secret: "env:HOTLINE_TEST_WH"}}
	t.Setenv("HOTLINE_TEST_WH", "")
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "webhooks.desk.secret: env:HOTLINE_TEST_WH is not set") {
		t.Errorf("unset: %v", err)
	}
	t.Setenv("HOTLINE_TEST_WH", "too-short")
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "webhooks.desk.secret: 9 bytes, need at least 32 (from env:HOTLINE_TEST_WH)") {
		t.Errorf("short: %v", err)
	}
	t.Setenv("HOTLINE_TEST_WH", strings.Repeat("s", 40))
	if err := c.CheckSecrets(); err != nil {
		t.Errorf("set: %v", err)
	}
}
