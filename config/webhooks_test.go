package config

import (
	"encoding/base64"
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

func TestWebhookDeliveryNetworksAndKeys(t *testing.T) {
	good := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	for _, tc := range []struct {
		d    WebhookDelivery
		want string
	}{
		{WebhookDelivery{AllowNetworks: []string{"127.0.0.0/8", "10.0.0.9", "fd00::/8"}}, ""},
		{WebhookDelivery{AllowNetworks: []string{"127.0.0.0/8", "10.0.0/8"}}, `webhook_delivery.allow_networks[1]: "10.0.0/8" is not an IP or CIDR`},
		{WebhookDelivery{SecretKeys: []WebhookKey{{ID: "k2", Key: good}, {ID: "k1", Key: "env:HOTLINE_TEST_KEY"}}}, ""},
		{WebhookDelivery{SecretKeys: []WebhookKey{{ID: "k1", Key: good}, {ID: "k1", Key: good}}}, "webhook_delivery.secret_keys[1].id: \"k1\""},
		{WebhookDelivery{SecretKeys: []WebhookKey{{ID: "K 1", Key: good}}}, "webhook_delivery.secret_keys[0].id"},
		{WebhookDelivery{SecretKeys: []WebhookKey{{ID: "k1"}}}, "webhook_delivery.secret_keys[0].key: empty"},
		{WebhookDelivery{SecretKeys: []WebhookKey{{ID: "k1", Key: "c2hvcnQ="}}}, "webhook_delivery.secret_keys[0].key: want 32 bytes in base64"},
	} {
		c := Default()
		c.WebhookDelivery = tc.d
		err := c.Validate()
		if tc.want == "" && err != nil {
			t.Errorf("%+v: %v", tc.d, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.d, err, tc.want)
		}
	}
	c := Default()
	c.WebhookDelivery.SecretKeys = []WebhookKey{{ID: "k1", Key: "env:HOTLINE_TEST_KEY"}}
	t.Setenv("HOTLINE_TEST_KEY", "")
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "webhook_delivery.secret_keys[0].key: env:HOTLINE_TEST_KEY is not set") {
		t.Errorf("unset key: %v", err)
	}
	t.Setenv("HOTLINE_TEST_KEY", "bm90IDMyIGJ5dGVz")
	if err := c.CheckSecrets(); err == nil || !strings.Contains(err.Error(), "want 32 bytes") {
		t.Errorf("short key: %v", err)
	}
	t.Setenv("HOTLINE_TEST_KEY", good)
	if err := c.CheckSecrets(); err != nil {
		t.Errorf("set: %v", err)
	}
}
